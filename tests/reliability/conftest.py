"""Fixtures for the fault-injection suite: free ports, audit look-ups, a service configured for faults."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Running, ServiceFactory, Sim, base_config


def free_port() -> int:
    """A loopback port nothing listens on (bound once, then closed, so a connect is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def audit_of(running: Running, message_id: str) -> dict[str, Any]:
    """The one audit record of the query sent with ``message_id``."""
    rows = await running.service.store.search(xroad_id=message_id)
    assert len(rows) == 1, f"expected one audit record, got {len(rows)}"
    return rows[0]


@pytest.fixture
async def fast(simulator: Sim, start_service: ServiceFactory, tmp_path: Path) -> Running:
    """The service with a short upstream deadline, so that stalls and slow answers end quickly."""
    result: Running = await start_service(
        base_config(tmp_path, simulator.url, xroad={"timeout_seconds": 0.5})
    )
    return result


def record_posts(running: Running) -> list[bytes]:
    """Spy on the real transport: every body it is asked to POST, in order (the call still goes out)."""
    transport = running.service.transport
    real_post = transport.post
    bodies: list[bytes] = []

    async def post(body: bytes, *, max_bytes: int | None = None) -> Any:
        bodies.append(body)
        return await real_post(body, max_bytes=max_bytes)

    transport.post = post  # type: ignore[method-assign]
    return bodies


async def wait_until(condition: Callable[[], bool], *, give_up: float = 20.0) -> None:
    """Poll ``condition`` (state of another component we cannot subscribe to); fail after ``give_up`` s."""
    async with asyncio.timeout(give_up):
        while not condition():  # noqa: ASYNC110 - no event to wait on in the other component
            await asyncio.sleep(0.01)
