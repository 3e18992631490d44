"""SIGTERM under load: readiness fails at once, queries in flight finish, new ones get 503, and the process
exits within ``server.shutdown_grace_seconds``."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import TOKEN, Sim, base_config
from tests.reliability.conftest import wait_until
from tests.reliability.processes import ServiceProcess, cli, start_service_process, write_config

GRACE = 3.0
# What the process may take beyond the grace to close listeners and the audit store: a bound, not a measure.
CLOSING = 3.0
IN_FLIGHT = 10


async def post_query(session: aiohttp.ClientSession, base: str, end_user: str) -> tuple[int, dict[str, Any]]:
    payload = {"hetu": "010280-952L", "end_user": end_user, "purpose": "CASE-1"}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with session.post(f"{base}/v1/person-queries", json=payload, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def readyz(session: aiohttp.ClientSession, base: str) -> tuple[int, dict[str, Any]]:
    async with session.get(f"{base}/readyz") as r:
        return r.status, await r.json(content_type=None)


async def exit_after_sigterm(service: ServiceProcess) -> tuple[int, float]:
    """Exit code and seconds from SIGTERM to exit."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    code = await service.wait(GRACE + CLOSING + 30)
    return code, loop.time() - sent


async def start(simulator: Sim, tmp_path: Path, **xroad: Any) -> tuple[Path, ServiceProcess]:
    raw = base_config(
        tmp_path,
        simulator.url,
        server={"shutdown_grace_seconds": GRACE},
        xroad={"timeout_seconds": 30, **xroad},
    )
    config = write_config(raw, tmp_path / "config.yaml")
    return config, await start_service_process(config)


@pytest.mark.slow
async def test_sigterm_fails_readiness_at_once_refuses_new_queries_and_lets_in_flight_ones_finish(
    simulator: Sim, tmp_path: Path
) -> None:
    simulator.knobs(latency_seconds=1.0)
    _, service = await start(simulator, tmp_path)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        assert (await readyz(session, service.base))[0] == 200
        busy = [asyncio.create_task(post_query(session, service.base, f"busy-{i}")) for i in range(IN_FLIGHT)]
        await wait_until(lambda: len(simulator.received) == IN_FLIGHT)

        service.signal(signal.SIGTERM)
        exited = asyncio.create_task(exit_after_sigterm(service))
        status, ready = await readyz(session, service.base)
        assert (status, ready["checks"]["shutdown"]) == (503, "shutting_down")
        status, body = await post_query(session, service.base, "too-late")
        assert (status, body["code"]) == (503, "shutting_down")

        answers = await asyncio.gather(*busy)
    assert [(status, body["outcome"]) for status, body in answers] == [(200, "found")] * IN_FLIGHT
    assert len(simulator.received) == IN_FLIGHT
    code, seconds = await exited
    assert code == 0
    assert seconds <= GRACE + CLOSING


@pytest.mark.slow
async def test_queries_still_out_when_the_grace_ends_are_cut_off_and_the_process_exits_in_time(
    simulator: Sim, tmp_path: Path
) -> None:
    simulator.knobs(mode="stall")  # the security server never answers
    config, service = await start(simulator, tmp_path)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        busy = [asyncio.create_task(post_query(session, service.base, f"stuck-{i}")) for i in range(3)]
        await wait_until(lambda: len(simulator.received) == 3)
        service.signal(signal.SIGTERM)
        code, seconds = await exit_after_sigterm(service)
        await asyncio.gather(*busy, return_exceptions=True)
    assert code == 0
    assert seconds <= GRACE + CLOSING

    # Recorded by the exiting process itself (no restart has happened): the queries may have been served.
    code, out, err = await cli("audit", "search", "--config", str(config))
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["xroad_message_id"] for r in records) == sorted(simulator.received)
    assert {(r["outcome"], r["error_code"]) for r in records} == {("outcome_unknown", "outcome_unknown")}
    assert service.logged("shutdown_grace_expired")
    code, _, err = await cli("audit", "verify", "--config", str(config))
    assert code == 0, err
