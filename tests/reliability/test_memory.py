"""5,000 requests arriving at once while every query slot waits on a stuck security server: all are refused
at once with 503 ``overloaded``, none is sent, and the service's memory stays flat (no queue grows inside)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import TOKEN, Sim, base_config
from tests.reliability.conftest import wait_until
from tests.reliability.processes import rss_bytes, start_service_process, write_config

REQUESTS = 5_000
MAX_IN_FLIGHT = 64
MIB = 1024 * 1024
BURSTS = 2
# Generous: an aiohttp server connection with its parser, request and handler task is a few KiB.
PER_CONNECTION = 24 * 1024


BODY = json.dumps({"hetu": "010280-952L", "end_user": "load", "purpose": "CASE-1"}).encode()
# Prebuilt and sent over a bare socket: an HTTP client library would make the test, not the service, the
# bottleneck of a 5,000-request burst.
REQUEST = (
    "POST /v1/person-queries HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
).encode() + BODY


async def query(port: int) -> tuple[int, str | None]:
    """One request on its own connection: the status and the problem ``code`` (None for a 200)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(REQUEST)
        answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, None if status == 200 else json.loads(body)["code"]


@pytest.mark.slow
async def test_five_thousand_requests_against_a_stuck_upstream_are_refused_at_once_and_memory_stays_flat(
    simulator: Sim, tmp_path: Path
) -> None:
    raw = base_config(
        tmp_path, simulator.url, server={"max_in_flight": MAX_IN_FLIGHT}, xroad={"timeout_seconds": 300}
    )
    service = await start_service_process(write_config(raw, tmp_path / "config.yaml"))
    peak = 0
    try:
        for _ in range(2):  # warm up: code paths, pools, allocator arenas
            await asyncio.gather(*(query(service.port) for _ in range(MAX_IN_FLIGHT)))
        baseline = rss_bytes(service.pid)
        warm = len(simulator.received)

        simulator.knobs(mode="stall")  # the security server takes requests and never answers
        stuck = [asyncio.create_task(query(service.port)) for _ in range(MAX_IN_FLIGHT)]
        await wait_until(lambda: len(simulator.received) == warm + MAX_IN_FLIGHT)

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_bytes(service.pid))
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        peaks: list[int] = []
        answers: Counter[tuple[int, str | None]] = Counter()
        for _ in range(BURSTS):
            answers.update(await asyncio.gather(*(query(service.port) for _ in range(REQUESTS))))
            peaks.append(max(peak, rss_bytes(service.pid)))
        watcher.cancel()
    finally:
        await service.stop()
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)

    # Every request beyond the slots is refused at once; none of them reaches the security server.
    assert answers == {(503, "overloaded"): REQUESTS * BURSTS}
    assert len(simulator.received) == warm + MAX_IN_FLIGHT
    print(f"rss baseline {baseline / MIB:.1f} MiB, peaks {[round(p / MIB, 1) for p in peaks]} MiB")
    # What a burst costs is bounded by the connections open at once, not by the requests refused …
    assert peaks[0] - baseline < REQUESTS * PER_CONNECTION
    # … and a second burst of the same size costs next to nothing more: no queue or leak grows with the
    # number of requests (a few MiB of allocator slack are normal).
    assert peaks[1] - peaks[0] < 16 * MIB
