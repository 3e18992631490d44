"""Start-up to ready: from spawning ``xroad-vtj serve`` to the first ``GET /readyz`` answered 200.

Measured twice per repeat: on a fresh directory ("first start": the SQLite store and its default key files
are created, including a signing key pair) and on that directory again ("restart", the usual case: the
store exists and is checked). The median of the repeats is reported. /readyz is polled every 2 ms.
"""

from __future__ import annotations

import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.common import free_port, service_config, start_service, start_simulator


@dataclass(frozen=True)
class StartupResult:
    first_start_seconds: float
    restart_seconds: float
    samples_first: tuple[float, ...]
    samples_restart: tuple[float, ...]


def _once(config: Path, port: int, log: Path) -> float:
    child = start_service(config, port, log)
    try:
        assert child.ready_seconds is not None
        return child.ready_seconds
    finally:
        child.stop()


def run(workdir: Path, *, repeats: int = 5) -> StartupResult:
    simulator, sim_port = start_simulator(workdir)
    first: list[float] = []
    again: list[float] = []
    try:
        for i in range(repeats):
            home = workdir / f"service-{i}"
            shutil.rmtree(home, ignore_errors=True)
            port = free_port()
            config = service_config(home, port=port, simulator_port=sim_port)
            first.append(_once(config, port, workdir / f"service-{i}-first.log"))
            again.append(_once(config, port, workdir / f"service-{i}-restart.log"))
    finally:
        simulator.stop()
    return StartupResult(statistics.median(first), statistics.median(again), tuple(first), tuple(again))
