"""Concurrency under a slow upstream: N queries in flight at once while the security server takes 1 s.

The simulator adds ``latency`` seconds to every answer; the service is configured with
``server.max_in_flight`` and ``xroad.pool_size`` above N (the defaults, 256 and 100, are sized for normal
traffic and would answer the excess with 503 overloaded or queue it for a connection). A load generator in
its own process sends all N at once. Every query must be answered 200 with a found person, the simulator
must have received exactly N messages, and the service's peak RSS (VmHWM) is read from /proc.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    QUERY_PATH,
    REPO,
    free_port,
    service_config,
    start_service,
    start_simulator,
)


@dataclass
class ConcurrencyResult:
    count: int
    latency_seconds: float
    ok: int
    lost: int
    received_upstream: int
    wall_seconds: float
    peak_rss_mb: float
    idle_rss_mb: float
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return self.count - self.ok


def _received(sim_port: int) -> int:
    url = f"http://127.0.0.1:{sim_port}/__simulator__/received"
    with urllib.request.urlopen(url, timeout=10) as response:
        data: dict[str, Any] = json.load(response)
    return len(data["received"])


def run(workdir: Path, *, count: int = 1000, latency: float = 1.0) -> ConcurrencyResult:
    simulator, sim_port = start_simulator(workdir, latency=latency)
    children = [simulator]
    try:
        port = free_port()
        config = service_config(
            workdir / "service",
            port=port,
            simulator_port=sim_port,
            max_in_flight=count + 100,
            pool_size=count + 100,
            timeout_seconds=max(10.0, latency * 10),
        )
        service = start_service(config, port, workdir / "service.log")
        children.append(service)
        idle = service.rss_mb()
        done = subprocess.run(
            [
                PYTHON,
                "-m",
                "bench.loadgen",
                "--url",
                f"http://127.0.0.1:{port}{QUERY_PATH}",
                "--count",
                str(count),
                "--timeout",
                str(latency * 30 + 30),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        service.check_alive()
        peak = service.peak_rss_mb()
        received = _received(sim_port)
        ok = int(report["statuses"].get("200", 0)) - int(report["errors"].get("unexpected_body", 0))
        answered = sum(int(v) for v in report["statuses"].values())
        return ConcurrencyResult(
            count=count,
            latency_seconds=latency,
            ok=ok,
            lost=count - answered,
            received_upstream=received,
            wall_seconds=float(report["wall_seconds"]),
            peak_rss_mb=peak,
            idle_rss_mb=idle,
            statuses=report["statuses"],
            errors=report["errors"],
        )
    finally:
        for child in reversed(children):
            child.stop()
