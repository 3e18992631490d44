"""What the stores give quotas and searches: an end user's day by an index made for it, other writers' intents
through the writer, the new hetu of a passivated answer, and one bad job refused alone."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.audit.conftest import PgDatabase
from tests.audit.helpers import HETUS, intent, outcome
from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import period_of
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.filters import search_where
from xroad_vtj.audit.keys import Keyring
from xroad_vtj.audit.records import Refusal
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.errors import AuditUnavailable
from xroad_vtj.metrics import Metrics
from xroad_vtj.policy import end_user_key


async def busy_day(store: AuditStore, records: int) -> None:
    """Many intents of other end users of the same caller, written in a few large transactions."""
    bodies = [
        codec.intent_body(
            intent(i, end_user=f"other-{i % 500}", subject=f"subject-{i}"),
            codec.new_audit_id(),
            "fill",
            store.keyring,
        )
        for i in range(records)
    ]
    period = period_of(intent().requested_at)
    for i in range(0, records, 2000):
        await store.append_bodies_at(bodies[i : i + 2000], [period] * len(bodies[i : i + 2000]))


async def test_an_end_users_day_is_loaded_once_and_then_counted_without_the_store(store: AuditStore) -> None:
    for i in range(3):
        await store.append_intent(intent(i, end_user="Maija", subject=HETUS[i]))
    await store.append_intent(intent(9, end_user="someone-else"))
    key = end_user_key("MAIJA")
    state = await store.end_user_usage("caseapp", key, "MAIJA", set())
    assert len(state.times) == 3
    assert len(state.subjects) == 3
    # loaded once: the next look is the same in-memory state
    assert await store.end_user_usage("caseapp", key, "MAIJA", set()) is state
    assert ("caseapp", end_user_key("someone-else")) not in store.usage.end_users


async def test_a_restart_counts_the_day_again_from_the_log(config: AuditConfig) -> None:
    first = open_store(config, instance="a")
    await first.open(checkpoints=False)
    try:
        await first.append_intent(intent(1, end_user="officer.x"))
        await first.append_intent(intent(2, end_user="OFFICER.X", subject=HETUS[1]))
    finally:
        await first.close()
    second = open_store(config, instance="b")
    await second.open(checkpoints=False)
    try:
        state = await second.end_user_usage("caseapp", "officer.x", "officer.x", set())
        assert len(state.times) == 2
        assert len(second.usage.caller("caseapp").times) == 2  # the callers' last minute, loaded at open
    finally:
        await second.close()


async def test_intents_another_process_appends_reach_the_ledger_with_the_next_own_commit(
    config: AuditConfig,
) -> None:
    mine, other = open_store(config, instance="mine"), open_store(config, instance="other")
    await mine.open(checkpoints=False)
    await other.open(checkpoints=False)
    try:
        state = await mine.end_user_usage("caseapp", "officer-1", "officer-1", set())
        assert len(state.times) == 0
        await other.append_intent(intent(1))
        await other.append_intent(intent(2, subject=HETUS[1]))
        await mine.append_intent(intent(3, end_user="someone-else"))  # its commit sees the two records
        assert len(state.times) == 2 and len(state.subjects) == 2
        assert len(mine.usage.caller("caseapp").times) == 2  # own admissions are counted by the policy
        await other.append_intent(intent(4))
        await mine.sync_usage()  # or a sync on demand (idle, or near a limit)
        assert len(state.times) == 3
        await mine.sync_usage()
        assert len(state.times) == 3  # each record once
    finally:
        await mine.close()
        await other.close()


def test_the_end_user_load_uses_its_own_index_on_a_busy_day(tmp_path: Path) -> None:
    """EXPLAIN QUERY PLAN on a store holding a busy day of one caller: the end user's index, not the caller's."""

    async def fill() -> Path:
        from xroad_vtj.audit.config import parse_audit_config

        cfg = parse_audit_config({"backend": "sqlite", "sqlite_path": str(tmp_path / "a.sqlite3")}, tmp_path)
        store = open_store(cfg, instance="t")
        await store.open(checkpoints=False)
        try:
            await busy_day(store, 4000)
        finally:
            await store.close()
        assert cfg.sqlite_path is not None
        return cfg.sqlite_path

    path = asyncio.run(fill())
    conn = sqlite3.connect(path)
    try:
        conn.execute("ANALYZE")
        plan = " | ".join(
            r[3]
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT seq FROM audit_record"
                " WHERE end_user_key = ? AND caller = ? AND kind = 'intent' AND requested_at >= ?",
                ("other-1", "caseapp", ""),
            )
        )
        where, params = search_where(
            "?",
            lambda column, values: (f"{column} IN ({', '.join('?' * len(values))})", list(values)),
            table="audit_record",
            xroad_id=None,
            end_user=None,
            subject_indexes=["a", "b"],
            since="2026",
            until=None,
        )
        search_plan = [
            r[3]
            for r in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT seq FROM audit_record WHERE {where} ORDER BY seq LIMIT 10",  # noqa: S608
                params,
            )
        ]
    finally:
        conn.close()
    assert "USING INDEX audit_record_end_user_key" in plan, plan
    # a search by subject is index lookups, never a scan of the log
    assert not any(step.startswith("SCAN audit_record") for step in search_plan), search_plan


async def test_postgresql_loads_an_end_user_by_its_index_on_a_busy_day(
    pg_db: PgDatabase, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tests.audit.conftest import keys_in
    from xroad_vtj.audit.config import parse_audit_config

    cfg = parse_audit_config(
        {"backend": "postgresql", "dsn": pg_db.app_dsn, **keys_in(tmp_path / "keys")}, tmp_path
    )
    store = open_store(cfg, instance="t")
    await store.open(checkpoints=False)
    try:
        await busy_day(store, 4000)
    finally:
        await store.close()
    busy = period_of(intent().requested_at)
    with psycopg.connect(pg_db.admin_dsn) as conn:
        conn.execute("ANALYZE xroad_vtj_audit.record")
        plan = "\n".join(
            str(r[0])
            for r in conn.execute(
                "EXPLAIN SELECT seq FROM xroad_vtj_audit.record WHERE end_user_key = %s AND caller = %s"
                " AND kind = 'intent' AND requested_at >= %s AND period >= %s",
                ("other-1", "caseapp", "", busy),
            )
        )
    assert "Index Scan on record_{busy}_end_user_key".replace("{busy}", str(busy)) in plan, plan
    assert f"Seq Scan on record_{busy}" not in plan, plan


async def test_a_search_by_the_new_hetu_of_a_passivated_answer_finds_the_query(store: AuditStore) -> None:
    audit_id = await store.append_intent(intent(1, subject=HETUS[0]))
    await store.append_outcome(audit_id, outcome("passivated", new_subject=HETUS[1]))
    await store.append_intent(intent(2, subject=HETUS[2]))
    found = await store.search(subject=HETUS[1])
    assert [r["xroad_message_id"] for r in found] == ["msg-1"]
    assert found[0]["new_subject"] == HETUS[1]
    assert [r["xroad_message_id"] for r in await store.search(subject=HETUS[0])] == ["msg-1"]


async def test_one_job_that_cannot_be_written_never_fails_the_batch_it_arrived_with(
    store: AuditStore, metrics: Metrics
) -> None:
    """Issue 11 §1: 500 intents sharing a batch with one body that is not valid Unicode all get written."""
    bad = '{"kind":"event","x":"\ud800"}'
    results = await asyncio.gather(
        *[store.append_intent(intent(i)) for i in range(250)],
        store._append(bad),
        *[store.append_intent(intent(i)) for i in range(250, 500)],
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], AuditUnavailable)
    assert "valid Unicode" in str(failures[0])
    assert len(await store.search(limit=1000)) == 500
    assert (await store.verify()).ok


async def test_a_refusal_holding_a_lone_surrogate_is_audited_with_a_replacement_character(
    store: AuditStore,
) -> None:
    refusal = Refusal(
        caller="caseapp",
        end_user="x\ud800",
        purpose="p\udfff",
        product="PERUSSANOMA 1",
        subject="010280-952\ud800",
        reason="invalid_request",
        requested_at=intent().requested_at,
    )
    others = [store.append_intent(intent(i)) for i in range(20)]
    await asyncio.gather(store.append_refusal(refusal), *others)
    rows = await store.search(limit=100)
    refused = [r for r in rows if r["kind"] == "refusal"]
    assert len(rows) == 21
    assert refused[0]["end_user"] == "x\ufffd" and refused[0]["purpose"] == "p\ufffd"
    assert refused[0]["subject"] == "010280-952\ufffd"
    # the record MAC was computed over the text as stored (with U+FFFD), not over the caller's surrogates
    report = await store.verify()
    assert report.ok and report.unauthenticated == 0, report.problem


async def test_a_sqlite_database_and_its_wal_are_created_owner_only(sqlite_config: AuditConfig) -> None:
    store = open_store(dataclasses.replace(sqlite_config), instance="t")
    await store.open(checkpoints=False)
    try:
        await store.append_intent(intent(1))
        assert sqlite_config.sqlite_path is not None
        files = sorted(sqlite_config.sqlite_path.parent.glob("audit.sqlite3*"))
        assert {f.name for f in files} >= {"audit.sqlite3", "audit.sqlite3-wal", "audit.sqlite3-shm"}
        for f in files:
            assert f.stat().st_mode & 0o077 == 0, (f.name, oct(f.stat().st_mode))
    finally:
        await store.close()


async def test_the_batch_size_histogram_counts_records_per_commit(
    store: AuditStore, metrics: Metrics
) -> None:
    await asyncio.gather(*[store.append_intent(intent(i)) for i in range(40)])
    samples = {
        s.name: s.value
        for m in metrics.registry.collect()
        if m.name == "xroad_vtj_audit_batch_records"
        for s in m.samples
    }
    assert samples["xroad_vtj_audit_batch_records_sum"] == 40
    assert 1 <= samples["xroad_vtj_audit_batch_records_count"] <= 40


async def test_a_version_1_sqlite_log_is_migrated_forward_and_still_verifies_and_counts(
    sqlite_config: AuditConfig,
) -> None:
    """A database written before schema version 2 (intents without end_user_key) opens, verifies, and its
    intents of the day still count for quotas (found by the end user as sent)."""
    import json

    from xroad_vtj.audit import sqlite_store
    from xroad_vtj.audit.keys import read_key_file
    from xroad_vtj.audit.mac import sealed_body
    from xroad_vtj.audit.store import ensure_embedded_keys

    cfg = sqlite_config.with_defaults()
    assert cfg.sqlite_path is not None and cfg.data_key_file is not None
    ensure_embedded_keys(cfg)
    keyring = Keyring(read_key_file(cfg.data_key_file, "k"))
    conn = sqlite_store.connect(cfg.sqlite_path)
    for statement in sqlite_store._statements(sqlite_store._migration("sqlite_0001_initial.sql")):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    bodies = []
    for i in range(3):
        fields = json.loads(
            codec.intent_body(intent(i, end_user="Old.Officer"), codec.new_audit_id(), "v1", keyring)
        )
        del fields["end_user_key"], fields["mac"]  # version 1: its record MAC over what it holds
        bodies.append(sealed_body(fields, keyring))
    conn.execute("BEGIN IMMEDIATE")
    sqlite_store.insert_chained(conn, bodies)
    conn.execute("COMMIT")
    conn.close()

    store = open_store(sqlite_config, instance="v2")
    await store.open(checkpoints=False)
    try:
        assert (await store.verify()).ok
        state = await store.end_user_usage("caseapp", end_user_key("Old.Officer"), "Old.Officer", set())
        assert len(state.times) == 3
        await store.append_intent(intent(9, end_user="OLD.OFFICER"))
        assert (await store.verify()).ok
    finally:
        await store.close()
    check = sqlite3.connect(cfg.sqlite_path)
    try:
        assert check.execute("PRAGMA user_version").fetchone() == (sqlite_store.SCHEMA_VERSION,)
    finally:
        check.close()


async def test_only_a_transaction_that_read_the_head_makes_the_quota_counts_current(
    store: AuditStore,
) -> None:
    store.usage.synced_at = 0.0
    await store.search()  # reads beside the writer say nothing of what other writers appended since
    await store.count_queries(since=datetime.now(UTC) - timedelta(days=1))
    assert store.usage.stale()
    await store.checkpoint()  # a write call: like every writer transaction it reads the head first
    assert not store.usage.stale()
    store.usage.synced_at = 0.0
    await store.append_intent(intent(1))
    assert not store.usage.stale()
