"""The benchmark suite: ``python -m bench`` (from the repository root, with the project's virtualenv).

Runs every benchmark, prints one table (measure, result, target, met) and writes the raw figures to
``var/bench/results.json``. ``--quick`` is a short smoke run (figures not meaningful); ``--only`` picks some.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from bench import audit, concurrency, protocol, quotas, startup, throughput
from bench.common import REPO, busy_fraction, machine

SUITES = ("protocol", "throughput", "throughput-quotas", "quotas", "concurrency", "startup", "audit")
BUSY_LOAD = 0.10  # CPUs busier than this (with nothing of ours running) means someone else is using them


@dataclass(frozen=True)
class Row:
    measure: str
    result: str
    target: str
    met: bool | None  # None: no target, or not measured


def _met(ok: bool) -> bool:
    return ok


def protocol_rows(r: protocol.ProtocolResult) -> list[Row]:
    rows = [
        Row(
            "protocol CPU per query, ours (build + parse + verify)",
            f"{r.ours_us:.0f} µs (build {r.ours_build_us:.0f} + parse/verify {r.ours_parse_us:.0f})",
            "≤ 200 µs",
            _met(r.ours_us <= 200),
        )
    ]
    if r.zeep_us is None or r.ratio is None:
        rows.append(Row("protocol CPU per query, zeep 4", "skipped", r.note, None))
    else:
        rows.append(
            Row(
                "protocol CPU per query, zeep 4",
                f"{r.zeep_us:.0f} µs (build {r.zeep_build_us:.0f} + parse/verify {r.zeep_parse_us:.0f})",
                "",
                None,
            )
        )
        rows.append(Row("zeep / ours", f"{r.ratio:.1f}x", ">= 5x", _met(r.ratio >= 5)))
    return rows


def throughput_rows(r: throughput.ThroughputResult, label: str = "quotas off") -> list[Row]:
    base = ", ".join(f"{x.requests_per_second:.0f}" for x in r.baseline)
    serv = ", ".join(f"{x.requests_per_second:.0f}" for x in r.service)
    ratios = ", ".join(f"{x:.2f}" for x in r.ratios)
    cpu_s = sum(r.service_cpu_per_request_ms) / max(len(r.service_cpu_per_request_ms), 1)
    cpu_b = sum(r.baseline_cpu_per_request_ms) / max(len(r.baseline_cpu_per_request_ms), 1)
    p50 = [x.latency_p50_ms for x in r.service if x.latency_p50_ms is not None]
    return [
        Row(f"throughput, raw baseline (req/s per round), {label}", base, "", None),
        Row(f"throughput, service, SQLite durable (req/s per round), {label}", serv, "", None),
        Row(
            f"throughput ratio service / baseline (median), {label}",
            f"{r.median_ratio:.2f} (rounds: {ratios})",
            "≥ 0.6",
            _met(r.median_ratio >= 0.6),
        ),
        Row(
            f"CPU per request (process total), {label}",
            f"service {cpu_s:.2f} ms, baseline {cpu_b:.2f} ms",
            "service ≤ 1.0 ms",
            _met(cpu_s <= 1.0),
        ),
        Row(
            f"audit records per commit in the service (mean; median bucket), {label}",
            ", ".join(f"{b.mean:.1f} ({b.median_bucket})" for b in r.batches) or "not measured",
            "median ≥ 8",
            _met(all(b.median_bucket not in ("none", "0-1", "1-2", "2-4", "4-8") for b in r.batches))
            if r.batches
            else None,
        ),
        Row(
            f"service latency p50 at 32 connections, {label}",
            ", ".join(f"{x:.1f} ms" for x in p50),
            "",
            None,
        ),
        Row(f"errors (non-2xx, socket) in throughput runs, {label}", str(r.errors), "0", _met(r.errors == 0)),
    ]


def quotas_rows(figures: list[quotas.Figures]) -> list[Row]:
    rows: list[Row] = []
    for f in figures:
        rows.append(
            Row(
                f"quotas on, one query at a time, {f.backend}, {f.fill:,} records of the last day",
                f"service CPU {f.cpu_ms:.2f} ms/query, p50 {f.p50_ms:.1f} ms; search by subject"
                f" {f.search_subject_ms:.1f} ms, by end user {f.search_end_user_ms:.1f} ms",
                "flat with the log",
                None,
            )
        )
    return rows


def concurrency_rows(r: concurrency.ConcurrencyResult) -> list[Row]:
    return [
        Row(
            f"{r.count} in flight, upstream {r.latency_seconds:g} s: answered 200",
            f"{r.ok}/{r.count} (lost {r.lost}, upstream received {r.received_upstream}, "
            f"all done in {r.wall_seconds:.1f} s)",
            "0 errors",
            _met(r.error_count == 0 and r.lost == 0 and r.received_upstream == r.count),
        ),
        Row(
            f"{r.count} in flight: service peak RSS",
            f"{r.peak_rss_mb:.0f} MB (idle {r.idle_rss_mb:.0f} MB)",
            "< 250 MB",
            _met(r.peak_rss_mb < 250),
        ),
    ]


def startup_rows(r: startup.StartupResult) -> list[Row]:
    return [
        Row(
            "start-up to ready (restart, median)",
            f"{r.restart_seconds * 1000:.0f} ms",
            "< 1 s",
            _met(r.restart_seconds < 1),
        ),
        Row(
            "start-up to ready (first start: creates store and keys, median)",
            f"{r.first_start_seconds * 1000:.0f} ms",
            "< 1 s",
            _met(r.first_start_seconds < 1),
        ),
    ]


def audit_rows(r: audit.AuditResult) -> list[Row]:
    if not r.present:
        return [
            Row("audit appends/s and verify records/s", "skipped", "bench/audit_bench.py not present", None)
        ]
    if not r.ok:
        return [
            Row("audit bench (bench/audit_bench.py)", "failed", r.output[-200:].replace("\n", " "), False)
        ]
    rows = []
    for key, value in r.figures.items():
        target, met = "", None
        number = re.match(r"[\d,]+", value)
        if "verify records/s" in key and number:
            target, met = ">= 100,000", _met(int(number.group().replace(",", "")) >= 100_000)
        rows.append(Row(f"audit: {key}", value, target, met))
    return rows


def print_table(rows: list[Row], out: Any = None) -> None:
    out = out or sys.stdout
    headers = ("measure", "result", "target", "met")
    cells = [(r.measure, r.result, r.target, {True: "yes", False: "NO", None: ""}[r.met]) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    print(line(headers), file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for c in cells:
        print(line(c), file=out)


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run; figures are not meaningful")
    parser.add_argument("--only", nargs="+", choices=SUITES, help="run only these benchmarks")
    parser.add_argument("--rounds", type=int, default=None, help="throughput rounds (default 5; quick 1)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per throughput run (default 10)")
    parser.add_argument(
        "--fill",
        type=int,
        default=1_000_000,
        help="records of the last day in the quotas benchmark's full store",
    )
    parser.add_argument("--in-flight", type=int, default=None, help="concurrent queries (default 1000)")
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "bench")
    args = parser.parse_args(argv)

    quick = args.quick
    rounds = args.rounds or (1 if quick else 5)
    seconds = args.seconds or (1 if quick else 10)
    in_flight = args.in_flight or (100 if quick else 1000)
    fill = args.fill
    selected = args.only or list(SUITES)
    workdir: Path = args.workdir
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)

    info = machine()
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, Linux {info['kernel']}",
        flush=True,
    )
    rows: list[Row] = []
    loads: dict[str, tuple[float, float]] = {}
    results: dict[str, Any] = {"machine": info, "quick": quick}
    steps: dict[str, Callable[[], tuple[Any, list[Row]]]] = {
        "protocol": lambda: _with_rows(
            protocol.run(n=200 if quick else 1000, repeats=2 if quick else 11), protocol_rows
        ),
        "throughput": lambda: _with_rows(
            throughput.run(workdir / "throughput", rounds=rounds, seconds=seconds, warmup=1 if quick else 2),
            throughput_rows,
        ),
        "throughput-quotas": lambda: _with_rows(
            throughput.run(
                workdir / "throughput-quotas",
                rounds=rounds,
                seconds=seconds,
                warmup=1 if quick else 2,
                quotas=True,
            ),
            lambda r: throughput_rows(r, "default quotas on"),
        ),
        "quotas": lambda: _with_rows(
            quotas.run(2000 if quick else fill, 60 if quick else 300, quotas.default_pg_dsn()), quotas_rows
        ),
        "concurrency": lambda: _with_rows(
            concurrency.run(workdir / "concurrency", count=in_flight, latency=1.0), concurrency_rows
        ),
        "startup": lambda: _with_rows(
            startup.run(workdir / "startup", repeats=1 if quick else 5), startup_rows
        ),
        "audit": lambda: _with_rows(
            audit.run(["--records", "20000", "--appends", "2000"] if quick else []), audit_rows
        ),
    }
    for name in SUITES:
        if name not in selected:
            continue
        started = time.perf_counter()
        load_before = busy_fraction()
        print(f"running {name} …", file=sys.stderr, flush=True)
        result, new_rows = steps[name]()
        results[name] = _jsonable(result)
        rows += new_rows
        loads[name] = (load_before, os.getloadavg()[0])
        print(
            f"  {name} done in {time.perf_counter() - started:.0f} s "
            f"(CPUs {load_before:.0%} busy with other work before it)",
            file=sys.stderr,
            flush=True,
        )
    results["busy_before_and_load_after"] = loads
    print()
    print_table(rows)
    busy = {name: before for name, (before, _) in loads.items() if before > BUSY_LOAD}
    if busy:
        # Other work on the machine takes CPU from the servers under test: the figures are then not comparable.
        shown = ", ".join(f"{name} {load:.0%}" for name, load in busy.items())
        print(f"\nwarning: the CPUs were busy with other work before: {shown}; the figures are pessimistic")
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nraw figures: {workdir / 'results.json'}")
    return 0 if all(r.met is not False for r in rows) else 1


def _with_rows(result: Any, to_rows: Callable[[Any], list[Row]]) -> tuple[Any, list[Row]]:
    return result, to_rows(result)


if __name__ == "__main__":
    sys.exit(main())
