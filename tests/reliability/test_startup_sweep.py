"""Start-up does not wait for the sweep of unfinished queries, and the sweep never takes a live query for dead.

The sweep reads the day's open intents (seconds on a busy day): it runs in the background after the store
opens, and only this instance's intents up to the head at open count as its own dead ones.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import intent
from tests.conftest import Running, ServiceFactory, Sim, base_config
from tests.reliability.conftest import wait_until
from xroad_vtj.audit.sqlite_store import SqliteAuditStore
from xroad_vtj.audit.store import open_store
from xroad_vtj.config import parse_config


async def test_the_service_is_ready_and_serves_before_its_start_up_sweep_ends_and_its_queries_are_not_swept(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = base_config(tmp_path, simulator.url, instance_id="replica-1")
    config = parse_config(raw, tmp_path, environ={})
    dead = open_store(config.audit, instance="replica-1")  # a previous process of the same name, killed
    await dead.open(checkpoints=False)
    await dead.append_intent(intent(1))
    await dead.close()

    gate = asyncio.Event()
    sweep = SqliteAuditStore._sweep

    async def slow_sweep(self: SqliteAuditStore, older_than: datetime | None, through: int | None) -> int:
        await gate.wait()  # a scan of a busy day
        return await sweep(self, older_than, through)

    monkeypatch.setattr(SqliteAuditStore, "_sweep", slow_sweep)
    running: Running = await start_service(raw)
    store = running.service.store
    status, body = await running.get("/readyz")
    assert (status, body["status"]) == (200, "ready")
    assert not store.sweep_done.is_set()

    simulator.knobs(latency_seconds=1.0)
    live: asyncio.Task[Any] = asyncio.create_task(running.query(end_user="live"))
    await wait_until(lambda: len(simulator.received) == 1)  # its intent is written, its answer not yet
    gate.set()
    async with asyncio.timeout(20):
        await store.sweep_done.wait()
    status, answer, _ = await live
    assert status == 200

    outcomes = {r["xroad_message_id"]: r["outcome"] for r in await store.search()}
    assert outcomes == {"msg-1": "outcome_unknown", simulator.received[0]: "found"}
    rows = await store._rows_for_audit_ids([answer["audit_id"]])
    assert len(rows) == 2  # the live query's intent and its one outcome: the sweep left it alone
