"""The benchmark suite stays runnable: its modules import and a one-second mini-run completes.

No figure is asserted (timings belong in docs/performance.md, not in tests); only that every part ran.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import __main__ as runner
from bench import audit, baseline, concurrency, protocol, throughput


def test_the_baseline_message_is_split_around_one_message_id() -> None:
    prefix, suffix = baseline.message_parts()
    assert prefix.endswith(b"<xrd:id>") and suffix.startswith(b"</xrd:id>")


def test_our_side_of_the_protocol_comparison_verifies_a_simulator_answer() -> None:
    headers, sent = protocol.ours_build()
    answer = protocol.ours_parse(headers, sent, protocol.answer_for(headers, sent))
    assert answer["outcome"] == "found"


def test_zeep_side_of_the_protocol_comparison_verifies_a_simulator_answer() -> None:
    pytest.importorskip("zeep")
    side = protocol.ZeepSide()
    message_id, sent = side.build()
    person = side.parse(message_id, sent, protocol.answer_for(protocol.zeep_headers(message_id), sent))
    assert person.NykyinenSukunimi.Sukunimi == "Testinen"


def test_the_audit_bench_table_is_read_row_by_row() -> None:
    output = """machine: x86_64, 2 CPUs
measure                                 result
--------------------------------------  ------------------------
SQLite durable appends/s, 1 appender    1,221
SQLite verify records/s                 255,320
PostgreSQL                              skipped (no --pg-dsn / XROAD_VTJ_TEST_PG_DSN)
"""
    assert audit.parse_table(output) == {
        "SQLite durable appends/s, 1 appender": "1,221",
        "SQLite verify records/s": "255,320",
        "PostgreSQL": "skipped (no --pg-dsn / XROAD_VTJ_TEST_PG_DSN)",
    }


def test_wrk_output_is_read_including_errors() -> None:
    output = """Running 1s test @ http://127.0.0.1:1/v1/person-queries
  Latency Distribution
     50%   10.50ms
     99%    1.20s
  1234 requests in 1.00s, 1.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:   1234.00
"""
    result = throughput.parse_wrk(output)
    assert (result.requests, result.non_2xx, result.socket_errors) == (1234, 5, 3)
    assert (result.latency_p50_ms, result.latency_p99_ms) == (10.5, 1200.0)


@pytest.mark.slow
def test_a_quick_run_of_the_whole_suite_completes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    # The audit part runs bench/audit_bench.py, which belongs to the audit store's own tests and may start a
    # PostgreSQL cluster: not part of this smoke run.
    only = ["--only", "protocol", "throughput", "concurrency", "startup"]
    runner.main(["--quick", "--workdir", str(tmp_path / "bench"), "--in-flight", "20", *only])
    table = capsys.readouterr().out
    for measure in ("protocol CPU per query", "throughput ratio", "in flight", "start-up to ready"):
        assert measure in table
    assert (tmp_path / "bench" / "results.json").exists()


@pytest.mark.slow
def test_concurrent_queries_against_a_slow_upstream_are_all_answered(tmp_path: Path) -> None:
    result = concurrency.run(tmp_path, count=20, latency=0.2)
    assert (result.ok, result.lost, result.received_upstream) == (20, 0, 20)


@pytest.mark.slow
def test_the_quotas_bench_runs_with_a_small_fill() -> None:
    from bench import quotas

    figures = quotas.run(200, 10, None, "sqlite")
    assert [(f.backend, f.fill, f.refused) for f in figures] == [("sqlite", 0, 0), ("sqlite", 200, 0)]
    assert "| sqlite | 200 |" in quotas.table(figures)
    assert (throughput.LUA_END_USERS).exists()
