"""Group commit that groups (issue 12 §2): 32 concurrent queries share commits (both backends), a lone query
commits at once, and the one-statement append writes only onto the head it was chained onto."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.audit.helpers import intent, outcome
from xroad_vtj.audit import core
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.sqlite_store import (
    MAX_COALESCE_SECONDS,
    connect,
    guarded_insert,
    head,
    insert_chained,
    migrate,
)
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.metrics import Metrics


def batch_sizes(metrics: Metrics) -> dict[float, float]:
    """Cumulative bucket counts of the records-per-commit histogram."""
    return {
        float(s.labels["le"]): s.value
        for m in metrics.registry.collect()
        if m.name == "xroad_vtj_audit_batch_records"
        for s in m.samples
        if s.name.endswith("_bucket")
    }


async def test_thirty_two_concurrent_queries_commit_at_least_eight_records_at_a_time_in_the_median(
    store: AuditStore, metrics: Metrics
) -> None:
    """On both backends (PostgreSQL's writer takes whatever is queued while the previous commit runs)."""

    async def query() -> None:
        for i in range(10):
            audit_id = await store.append_intent(intent(i))
            await asyncio.sleep(0.001)  # the answer from upstream
            await store.append_outcome(audit_id, outcome())

    await asyncio.gather(*[query() for _ in range(32)])
    buckets = batch_sizes(metrics)
    commits = buckets[float("inf")]
    assert commits < 640
    # fewer than half of the commits held fewer than 8 records: the median batch is at least 8
    assert buckets[4.0] < commits / 2, buckets


async def test_a_lone_query_is_committed_without_waiting_for_company(
    sqlite_store: AuditStore, metrics: Metrics
) -> None:
    await sqlite_store.append_intent(intent(0))  # warm: the connection is open
    started = time.perf_counter()
    for i in range(5):
        audit_id = await sqlite_store.append_intent(intent(i))
        await sqlite_store.append_outcome(audit_id, outcome())
    per_commit = (time.perf_counter() - started) / 10
    assert batch_sizes(metrics)[1.0] == 11  # every commit held its one record
    assert sqlite_store.open_queries == 1  # the warm-up's intent has no outcome
    assert per_commit < 0.5  # (fsync only; a coalescing wait would add MAX_COALESCE_SECONDS each)
    assert MAX_COALESCE_SECONDS > 0


def test_a_batch_is_written_only_onto_the_head_it_was_chained_onto(tmp_path: Path) -> None:
    """The one-statement append writes every row or none: none once another writer moved the head."""
    conn = connect(tmp_path / "a.sqlite3")
    try:
        migrate(conn)
        insert_chained(conn, ['{"kind":"event","n":1}', '{"kind":"event","n":2}'])
        seq, hash_, period = head(conn)
        body = '{"kind":"event","n":3}'
        [stale] = core.chain((seq - 1, b"\0" * 32, period), [body.encode()], period)
        assert (
            conn.execute(
                guarded_insert(1), [stale.seq, stale.period, body, stale.hash, seq - 1, seq - 1, b"\0" * 32]
            ).rowcount
            == 0
        )
        [fresh] = core.chain((seq, hash_, period), [body.encode()], period)
        assert (
            conn.execute(
                guarded_insert(1), [fresh.seq, fresh.period, body, fresh.hash, seq, seq, hash_]
            ).rowcount
            == 1
        )
        assert head(conn) == (seq + 1, fresh.hash, period)
    finally:
        conn.close()


async def test_appends_after_a_call_job_or_another_process_chain_onto_the_new_head(
    sqlite_store: AuditStore, sqlite_config: AuditConfig
) -> None:
    first = await sqlite_store.append_intent(intent(1))
    await sqlite_store.mark_unfinished_unknown(None)  # a call job appends the sweep's records
    await sqlite_store.append_outcome(first, outcome())
    other = open_store(sqlite_config, instance="other")
    await other.open(checkpoints=False)
    try:
        await other.append_intent(intent(2))
    finally:
        await other.close()
    await sqlite_store.append_intent(intent(3))
    report = await sqlite_store.verify()
    assert report.ok, report
    assert (await sqlite_store._head())[0] == 6  # intent, outcome_unknown, sweep event, outcome, 2 intents
