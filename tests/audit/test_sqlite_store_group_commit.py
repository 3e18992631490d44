"""Group commit that groups (issue 12 §2): 32 concurrent queries share commits, a lone query commits at once."""

from __future__ import annotations

import asyncio
import time

from tests.audit.helpers import intent, outcome
from xroad_vtj.audit.sqlite_store import MAX_COALESCE_SECONDS
from xroad_vtj.audit.store import AuditStore
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
    sqlite_store: AuditStore, metrics: Metrics
) -> None:
    async def query() -> None:
        for i in range(10):
            audit_id = await sqlite_store.append_intent(intent(i))
            await asyncio.sleep(0.001)  # the answer from upstream
            await sqlite_store.append_outcome(audit_id, outcome())

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
