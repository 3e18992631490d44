"""Overload: a bounded number of queries in flight; beyond it 503 ``overloaded`` with Retry-After at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import Running, ServiceFactory, Sim, base_config
from tests.reliability.conftest import wait_until

LIMIT = 5


async def test_beyond_max_in_flight_a_query_is_refused_at_once_with_retry_after_and_nothing_is_sent(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    running: Running = await start_service(
        base_config(tmp_path, simulator.url, server={"max_in_flight": LIMIT}, xroad={"timeout_seconds": 2.0})
    )
    simulator.knobs(latency_seconds=30.0)  # the first LIMIT queries sit at the security server
    busy = [asyncio.create_task(running.query(end_user=f"busy-{i}")) for i in range(LIMIT)]
    await wait_until(lambda: len(simulator.received) == LIMIT)

    status, body, headers = await running.query(end_user="one-too-many")

    # Answered while every slot is still taken: it did not wait for a slot.
    assert not any(task.done() for task in busy)
    assert (status, body["code"]) == (503, "overloaded")
    assert headers["Retry-After"] == "1"
    assert len(simulator.received) == LIMIT
    assert await running.service.store.search(end_user="one-too-many") == []

    assert {(await task)[0] for task in busy} == {504}  # the deadline ends them; the slots come back
    simulator.knobs(latency_seconds=0.0)
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")
