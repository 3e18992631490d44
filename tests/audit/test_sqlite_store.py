"""The embedded SQLite store: files, keys, append-only triggers, failures, several processes, crashes."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.audit.helpers import HETUS, intent, refusal, sqlite_chain
from xroad_vtj.audit import codec
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.core import SweepQueries, WriteTx
from xroad_vtj.audit.sqlite_store import USAGE, CallSuspended, SqliteAuditStore, connect, migrate
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.errors import AuditUnavailable
from xroad_vtj.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]


async def test_missing_keys_are_created_owner_only_with_one_warning(sqlite_config: AuditConfig) -> None:
    with capture_logs() as logs:
        for _ in range(2):
            store = open_store(sqlite_config, instance="t")
            await store.open()
            await store.close()
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["audit_keys_created"]
    cfg = sqlite_config.with_defaults()
    for path in (cfg.data_key_file, cfg.signing_key_file, cfg.signing_cert_file):
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.parent == cfg.sqlite_path.parent  # type: ignore[union-attr]
    assert cfg.checkpoint_dir is not None and cfg.checkpoint_dir.is_dir()


async def test_the_subject_never_reaches_the_database_file_in_plain_text(
    sqlite_store: AuditStore, sqlite_config: AuditConfig
) -> None:
    await sqlite_store.append_intent(intent(1, subject=HETUS[3]))
    await sqlite_store.append_refusal(refusal(subject="131052-308T"))
    await sqlite_store.close()
    assert sqlite_config.sqlite_path is not None
    blob = b"".join(p.read_bytes() for p in sqlite_config.sqlite_path.parent.glob("audit.sqlite3*"))
    assert HETUS[3].encode() not in blob
    assert b"131052-308T" not in blob
    assert b"msg-1" in blob  # the file was read at all


async def test_records_cannot_be_updated_or_deleted(
    sqlite_store: AuditStore, sqlite_config: AuditConfig
) -> None:
    await sqlite_store.append_intent(intent(1))
    assert sqlite_config.sqlite_path is not None
    conn = sqlite3.connect(sqlite_config.sqlite_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_record SET body = '{}'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_record")
    finally:
        conn.close()


async def test_a_failing_write_answers_audit_unavailable_and_the_store_recovers(
    sqlite_store: AuditStore, sqlite_config: AuditConfig, metrics: Metrics
) -> None:
    assert sqlite_config.sqlite_path is not None
    conn = sqlite3.connect(sqlite_config.sqlite_path, isolation_level=None)
    for table in ("audit_record", "audit_probe"):  # every write fails, as on a full disk
        conn.execute(
            f"CREATE TRIGGER broken_{table} BEFORE INSERT ON {table}"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    await sqlite_store.ping()  # nothing failed yet: the cheap check
    results = await asyncio.gather(
        *(sqlite_store.append_intent(intent(i)) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, AuditUnavailable) for r in results)
    assert "disk full" not in str(results[0])
    assert metrics.registry.get_sample_value("xroad_vtj_audit_append_failures_total") == 5
    with pytest.raises(AuditUnavailable):
        await sqlite_store.ping()  # not ready while writes fail
    for table in ("audit_record", "audit_probe"):
        conn.execute(f"DROP TRIGGER broken_{table}")
    conn.close()
    await sqlite_store.ping()  # ready again by itself, before any query came
    await sqlite_store.append_intent(intent(9))
    assert [r["xroad_message_id"] for r in await sqlite_store.search()] == ["msg-9"]
    assert sqlite_chain(sqlite_config.sqlite_path).ok


async def test_a_write_call_that_suspends_fails_loudly_and_writes_nothing(sqlite_store: AuditStore) -> None:
    """The writer thread runs a write call to its end without an event loop: a call awaiting anything but its
    transaction would otherwise hang there or run half."""

    async def call(tx: WriteTx) -> None:
        await tx.append([codec.event_body("test", "t", {}, sqlite_store.keyring)])
        await asyncio.sleep(0)

    with pytest.raises(CallSuspended):
        await sqlite_store.write_call(call)
    assert (await sqlite_store._head())[0] == 0
    await sqlite_store.append_intent(intent(1))  # the writer goes on
    assert (await sqlite_store.verify()).ok


# sqlite_stat1 as ANALYZE leaves it on a log of 1,000,000 records of one day (bench.quotas --fill)
BUSY_DAY_STATS = [
    ("audit_record_end_user_key", "500000 250 250 250 1"),
    ("audit_record_kind_time", "1000000 500000 2 1"),
    ("audit_record_period", "1000000 1000000"),
    ("audit_record_subject", "1000000 10"),
    ("audit_record_end_user", "1000000 500 500 2 2"),
    ("audit_record_message_id", "1000000 2"),
    ("audit_record_audit_id", "1000000 2 1"),
]


@pytest.mark.parametrize("stats", [False, True], ids=["no-statistics", "busy-day-statistics"])
def test_start_up_and_sweep_reads_go_through_their_indexes_not_the_whole_log(
    tmp_path: Path, stats: bool
) -> None:
    """With a busy day's statistics SQLite walked the whole log in seq order to save a sort (5.7 s at start-up
    for the callers' last minute); the sweep's by-seq part must read only the records after the last sweep."""
    conn = connect(tmp_path / "plan.sqlite3")
    try:
        migrate(conn)
        if stats:
            conn.execute("ANALYZE")
            conn.execute("DELETE FROM sqlite_stat1")
            conn.executemany("INSERT INTO sqlite_stat1 VALUES ('audit_record', ?, ?)", BUSY_DAY_STATS)
            conn.execute("ANALYZE sqlite_schema")  # load them
        q = SweepQueries.of(SqliteAuditStore.RECORDS, SqliteAuditStore.MARK, SqliteAuditStore.INSTANCE_COLUMN)
        plans = {
            name: " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?")))
            for name, sql in (("by_seq", q.by_seq), ("by_time", q.by_time), ("minute", USAGE.minute))
        }
    finally:
        conn.close()
    assert plans["by_seq"].startswith("SEARCH i USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), plans
    assert "SEARCH o USING INDEX audit_record_audit_id" in plans["by_seq"]
    assert plans["by_time"].startswith(
        "SEARCH i USING INDEX audit_record_kind_time (kind=? AND requested_at>?)"
    )
    assert plans["minute"].startswith("SEARCH audit_record USING INDEX audit_record_kind_time"), plans


async def test_an_append_never_returns_from_a_writer_connection_left_inside_a_transaction(
    sqlite_store: AuditStore,
) -> None:
    """Defence in depth: the one-statement append commits only in autocommit; were the writer's connection
    ever left in a transaction, the append is refused (not acknowledged uncommitted) and the next one works."""
    import sqlite3

    from tests.audit.helpers import intent
    from xroad_vtj.errors import AuditUnavailable

    await sqlite_store.append_intent(intent(1))  # the writer knows its head: the one-statement path is open
    writer = sqlite_store._writer  # type: ignore[attr-defined]
    writer._connection().execute("BEGIN")  # the writer thread is idle between batches
    try:
        await sqlite_store.append_intent(intent(2))
    except AuditUnavailable:
        pass
    else:  # acknowledged: then it must be durable, seen from another connection
        path = sqlite_store.config.sqlite_path
        assert path is not None
        with sqlite3.connect(path) as other:
            assert other.execute("SELECT count(*) FROM audit_record").fetchone()[0] >= 2
    await sqlite_store.append_intent(intent(3))
    assert (await sqlite_store.verify()).ok
