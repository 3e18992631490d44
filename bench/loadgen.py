"""A burst load generator in its own process: N queries at once, every status counted.

``python -m bench.loadgen --url URL --count 1000`` prints one JSON line: statuses, transport errors, and the
wall time from the first request to the last answer. Each query has its own connection (no pool limit),
so that all of them are in flight at the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
from typing import Any

import aiohttp

from bench.common import QUERY_BODY, TOKEN


async def burst(url: str, count: int, seconds: float) -> dict[str, Any]:
    statuses: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    latencies: list[float] = []
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=seconds)
    ) as session:

        async def one() -> None:
            started = time.perf_counter()
            try:
                async with session.post(url, data=QUERY_BODY, headers=headers) as response:
                    body = await response.read()
                    statuses[str(response.status)] += 1
                    if response.status == 200 and b'"outcome":"found"' not in body:
                        errors["unexpected_body"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] += 1
            latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "count": count,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "wall_seconds": wall,
        "latency_p50": latencies[len(latencies) // 2] if latencies else None,
        "latency_max": latencies[-1] if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(burst(args.url, args.count, args.timeout))))


if __name__ == "__main__":
    main()
