"""The service's sweeps of unfinished queries: ``outcome_unknown`` for the intents of processes that died.

They run in the background, after the store opens: readiness never waits for them (on a busy day the read of
the open intents takes seconds), a failure is logged and tried again later, and shutdown cancels them. Both
are bounded by the head seq at open (:attr:`AuditStore.opened_head`), so that the queries this process admits
meanwhile under the same instance name are never swept.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import structlog

from xroad_vtj.audit.store import AuditStore

SWEEP_RETRY_SECONDS = 30.0

log = structlog.get_logger("xroad_vtj.audit")


async def sweep_dead_queries(store: AuditStore, started: datetime, settle_seconds: float) -> None:
    """First this instance's own open intents (a previous process of the same name is dead: this one holds
    the name now); then, ``settle_seconds`` after ``started`` (a query deadline plus the shutdown grace), every
    intent requested before ``started``: a dead process with another name (the default name has the pid in it;
    another replica) is only certain to be dead once none of its queries could still be out."""
    began = time.monotonic()
    through = store.opened_head
    await _sweep_until_done(store, None, through)
    await asyncio.sleep(max(0.0, settle_seconds - (time.monotonic() - began)))
    await _sweep_until_done(store, started, through)


async def _sweep_until_done(store: AuditStore, older_than: datetime | None, through: int) -> None:
    while True:
        began = time.monotonic()
        try:
            count = await store.mark_unfinished_unknown(older_than, through=through)
        except Exception as e:  # the store may be down for now: the service goes on, and so does the sweep
            log.warning("unfinished_sweep_failed", error=type(e).__name__, retry_seconds=SWEEP_RETRY_SECONDS)
            await asyncio.sleep(SWEEP_RETRY_SECONDS)
            continue
        log.info("unfinished_sweep_finished", marked=count, seconds=round(time.monotonic() - began, 3))
        if count:
            log.warning("unfinished_queries_marked_unknown", count=count)
        return
