"""5,000 requests arriving at once against a slow security server: at most ``server.max_in_flight`` are
taken, the rest are refused at once, and the service's memory stays flat (no queue grows inside it)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import TOKEN, Sim, base_config
from tests.reliability.processes import rss_bytes, start_service_process, write_config

REQUESTS = 5_000
MAX_IN_FLIGHT = 64
MIB = 1024 * 1024
BURSTS = 3
# Generous: an aiohttp connection with its parser, request and handler task is a few KiB.
PER_CONNECTION = 24 * 1024


@pytest.mark.slow
async def test_five_thousand_requests_against_a_slow_upstream_are_bounded_and_memory_stays_flat(
    simulator: Sim, tmp_path: Path
) -> None:
    raw = base_config(
        tmp_path, simulator.url, server={"max_in_flight": MAX_IN_FLIGHT}, xroad={"timeout_seconds": 30}
    )
    service = await start_service_process(write_config(raw, tmp_path / "config.yaml"))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    payload = {"hetu": "010280-952L", "end_user": "load", "purpose": "CASE-1"}
    peak = 0
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def query() -> tuple[int, str | None]:
                async with session.post(
                    f"{service.base}/v1/person-queries", json=payload, headers=headers
                ) as r:
                    return r.status, (await r.json(content_type=None)).get("code")

            for _ in range(2):  # warm up: code paths, pools, allocator arenas
                await asyncio.gather(*(query() for _ in range(MAX_IN_FLIGHT)))
            baseline = rss_bytes(service.pid)
            simulator.knobs(latency_seconds=1.0)

            async def watch() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, rss_bytes(service.pid))
                    await asyncio.sleep(0.02)

            watcher = asyncio.create_task(watch())
            peaks: list[int] = []
            sent: list[int] = []
            answers: Counter[tuple[int, str | None]] = Counter()
            for _ in range(BURSTS):
                before = len(simulator.received)
                answers.update(await asyncio.gather(*(query() for _ in range(REQUESTS))))
                sent.append(len(simulator.received) - before)
                peaks.append(peak)
            watcher.cancel()
    finally:
        await service.stop()

    assert set(answers) == {(200, None), (503, "overloaded")}
    # Each burst: the first MAX_IN_FLIGHT are sent, every other request is refused, nothing waits in line.
    assert sent == [MAX_IN_FLIGHT] * BURSTS
    assert answers[(200, None)] == MAX_IN_FLIGHT * BURSTS
    print(f"rss baseline {baseline / MIB:.1f} MiB, peaks {[round(p / MIB, 1) for p in peaks]} MiB")
    # What a burst costs is bounded by the connections open at once, not by the requests refused …
    assert peaks[0] - baseline < REQUESTS * PER_CONNECTION
    # … and once the allocator has settled (first two bursts), another burst of the same size costs next to
    # nothing more: no queue or leak grows with the number of requests.
    assert peaks[2] - peaks[1] < 16 * MIB
