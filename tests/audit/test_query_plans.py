"""Every read the SQLite store issues uses an index, on a log holding a busy day (schema version 3's partial
indexes included): the statements are the ones the store really runs, captured by a trace callback while it
searches, counts, loads quotas, sweeps, proves, applies retention and verifies; each is then planned with
``EXPLAIN QUERY PLAN`` as the service plans it: the service never runs ANALYZE, so SQLite plans without
statistics. (With statistics of a log that holds only this one day, a scan in seq order is the cheaper plan
for a window covering all of it, and SQLite rightly picks it; tests/audit/test_store_quota_usage.py plans the
quota read on such statistics.)"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.audit.helpers import HETUS, intent, outcome
from xroad_vtj.audit import codec, sqlite_store
from xroad_vtj.audit.chain import period_of
from xroad_vtj.audit.config import parse_audit_config
from xroad_vtj.audit.records import Refusal
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.policy import end_user_key

# Statements that read the whole log by design: verify walks every record, and the head/first seq come from
# the rowid B-tree.
WHOLE_LOG = ("ORDER BY seq", "min(seq)", "max(seq)")


def plan(conn: sqlite3.Connection, statement: str) -> list[str]:
    return [str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {statement}")]


def full_scans(steps: list[str]) -> list[str]:
    """Plan steps that read the whole record table rather than an index (or a rowid range)."""
    return [s for s in steps if s.startswith("SCAN audit_record") and "INDEX" not in s]


async def busy_store(path: Path, records: int) -> AuditStore:
    """A store holding ``records`` intents with outcomes (every fourth end user refused once), opened."""
    cfg = parse_audit_config({"backend": "sqlite", "sqlite_path": str(path)}, path.parent)
    store = open_store(cfg, instance="plans")
    await store.open(checkpoints=False)
    now = datetime.now(UTC)
    bodies: list[str] = []
    for i in range(records):
        audit_id = codec.new_audit_id()
        query = intent(i, end_user=f"officer-{i % 200}", subject=HETUS[i % len(HETUS)], requested_at=now)
        bodies.append(codec.intent_body(query, audit_id, "plans", store.keyring))
        bodies.append(codec.outcome_body(audit_id, "plans", outcome(), store.keyring))
        if i % 4 == 0:
            refusal = Refusal(
                "caseapp", f"officer-{i % 200}", "case", "PERUSSANOMA 1", HETUS[0], "quota", now
            )
            bodies.append(codec.refusal_body(refusal, codec.new_audit_id(), "plans", store.keyring))
    period = period_of(now)
    for i in range(0, len(bodies), 2000):
        await store.append_bodies_at(bodies[i : i + 2000], [period] * len(bodies[i : i + 2000]))
    return store


def traced_statements(path: Path) -> list[str]:
    """Every statement a store runs on ``path`` while doing each kind of read, values bound."""
    seen: list[str] = []
    real_connect = sqlite_store.connect

    def keep(statement: str) -> None:
        if not statement.startswith("INSERT INTO audit_record (seq"):  # the appends themselves
            seen.append(statement)

    def tracing_connect(path: Path) -> sqlite3.Connection:
        conn = real_connect(path)
        conn.set_trace_callback(keep)
        return conn

    async def run() -> None:
        store = await busy_store(path, 3000)
        try:
            await store.append_intent(intent(90_000, end_user="Maija", subject=HETUS[1]))
            audit_id = await store.append_intent(intent(90_001, end_user="Maija", subject=HETUS[2]))
            await store.append_outcome(audit_id, outcome("passivated", new_subject=HETUS[3]))
            since = datetime.now(UTC) - timedelta(days=1)
            await store.search(xroad_id="msg-17")
            await store.search(end_user="officer-3")
            await store.search(subject=HETUS[3])
            await store.search(since=since, until=datetime.now(UTC))
            await store.search(until=since)
            await store.raw_window(since=since)
            await store.count_queries(since=since)
            await store.count_queries(since=since, caller="caseapp")
            await store.count_queries(since=since, end_user="officer-3")
            await store.count_distinct_subjects(since=since, caller="caseapp", end_user="officer-3")
            await store.count_distinct_subjects(since=since, caller=None, end_user="officer-3")
            await store.end_user_usage("caseapp", end_user_key("Maija"), "Maija", set())
            await store.sync_usage()
            await store.mark_unfinished_unknown(datetime.now(UTC) - timedelta(hours=1))
            await store.prove("msg-90001")
            await store.apply_retention()
            assert (await store.verify()).ok
        finally:
            await store.close()

    sqlite_store.connect = tracing_connect
    try:
        asyncio.run(run())
    finally:
        sqlite_store.connect = real_connect
    return seen


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("plans") / "audit.sqlite3"
    return path, traced_statements(path)


def reads(statements: list[str]) -> list[str]:
    out = []
    for s in statements:
        head = s.lstrip().split(None, 1)[0].upper()
        if head in ("SELECT", "INSERT", "DELETE") and "audit_record" in s and s not in out:
            out.append(s)
    return out


def test_every_read_of_the_records_uses_an_index(traced: tuple[Path, list[str]]) -> None:
    path, statements = traced
    checked = reads(statements)
    assert len(checked) >= 15, checked  # the reads really were captured
    conn = sqlite3.connect(path)
    try:
        bad = {}
        for statement in checked:
            steps = plan(conn, statement)
            if full_scans(steps) and not any(w in statement for w in WHOLE_LOG if "WHERE" not in statement):
                bad[statement] = steps
    finally:
        conn.close()
    assert not bad, bad


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("xroad_message_id = 'msg-17'", "audit_record_message_id"),
        ("end_user = 'officer-3' AND kind = 'intent' AND requested_at >= ''", "audit_record_end_user"),
        ("subject_index = 'x'", "audit_record_subject"),
        ("new_subject_index = 'x'", "audit_record_new_subject"),
        (
            "end_user_key = 'maija' AND caller = 'caseapp' AND kind = 'intent' AND requested_at >= ''",
            "audit_record_end_user_key",
        ),
        ("kind = 'intent' AND requested_at >= '2026'", "audit_record_kind_time"),
        ("kind = 'event'", "audit_record_event"),
        ("audit_id = 'x' AND kind = 'outcome'", "audit_record_audit_id"),
        ("period < 202001", "audit_record_period"),
    ],
)
def test_each_partial_index_serves_the_searches_it_was_made_for(
    traced: tuple[Path, list[str]], where: str, index: str
) -> None:
    path, _ = traced
    conn = sqlite3.connect(path)
    try:
        steps = plan(conn, f"SELECT seq FROM audit_record WHERE {where}")  # noqa: S608  # test literals
    finally:
        conn.close()
    assert any(index in s for s in steps), steps


def test_outcomes_and_events_are_left_out_of_the_indexes_they_are_never_found_by(
    traced: tuple[Path, list[str]],
) -> None:
    """Half of all records are outcomes: they add entries to the audit id and period indexes only. A partial
    index holds exactly the rows its WHERE admits (counted through the index itself)."""
    path, _ = traced
    conn = sqlite3.connect(path)
    try:
        total = conn.execute("SELECT count(*) FROM audit_record").fetchone()[0]
        outcomes = conn.execute("SELECT count(*) FROM audit_record WHERE kind = 'outcome'").fetchone()[0]
        partial = {
            name: sql.split(" WHERE ", 1)[1]
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_record'"
                " AND sql LIKE '% WHERE %'"
            )
        }
        entries = {
            name: conn.execute(
                f"SELECT count(*) FROM audit_record INDEXED BY {name} WHERE {where}"  # noqa: S608  # schema
            ).fetchone()[0]
            for name, where in partial.items()
        }
    finally:
        conn.close()
    assert outcomes > 3000
    assert set(partial) == {
        "audit_record_message_id",
        "audit_record_end_user",
        "audit_record_subject",
        "audit_record_kind_time",
        "audit_record_event",
        "audit_record_new_subject",
        "audit_record_end_user_key",
    }
    for name in ("audit_record_message_id", "audit_record_end_user", "audit_record_subject"):
        assert entries[name] <= total - outcomes, (name, entries)
    assert entries["audit_record_kind_time"] == total - outcomes - entries["audit_record_event"]
    assert 1 <= entries["audit_record_new_subject"] < 5
