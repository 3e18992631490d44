"""Where the service's throughput goes: the same load with one part switched off at a time.

``python -m bench.ablation [--rounds 3] [--seconds 8]`` starts the simulator and, round after round, each
variant of the service in its own process, measures it with wrk (32 connections) and prints requests/s and
CPU per request of the service process (all its threads) for each variant. Diagnosis only: a variant that
switches the audit off is not a way to run the service.

Variants:

- ``full``: the service as shipped (SQLite audit with durable group commits, info-level logs).
- ``no-audit-writes``: record bodies are still made (encryption, canonical JSON), but nothing is queued to the
  writer thread or written: what the SQLite writer, its thread hand-offs and the commits cost.
- ``no-request-log``: log level warning, so that the one info line per request is not written.
- ``baseline``: the raw forwarder of ``bench/baseline.py``, for reference.
- ``full+uvloop``, ``baseline+uvloop``: the same on uvloop's event loop (``pip install uvloop``; not a
  dependency of the service), to see what a faster event loop would buy each.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.common import (
    PYTHON,
    REPO,
    Child,
    free_port,
    service_config,
    start_baseline,
    start_simulator,
    wait_http,
)
from bench.throughput import run_wrk

VARIANTS = ("full", "no-audit-writes", "no-request-log", "baseline", "full+uvloop", "baseline+uvloop")
DEFAULT_VARIANTS = VARIANTS[:4]


def serve_variant(variant: str, config_path: Path) -> None:
    """Run the service in this process with ``variant`` applied (the child side)."""
    from xroad_vtj.api.server import serve
    from xroad_vtj.audit.sqlite_store import SqliteAuditStore
    from xroad_vtj.config import load_config
    from xroad_vtj.logging import configure_logging

    if variant.startswith("full"):
        _count_commits()
        _time_stages()
    if variant == "no-audit-writes":
        counter = itertools.count(1)

        async def append(self: SqliteAuditStore, body: str) -> int:
            return next(counter)

        SqliteAuditStore._append = append  # type: ignore[method-assign]
    config = load_config(config_path)
    configure_logging("warning" if variant == "no-request-log" else config.log_level)
    if variant.endswith("+uvloop"):
        import uvloop

        uvloop.run(serve(config))
    else:
        asyncio.run(serve(config))


def _time_stages() -> None:
    """Wall time a query spends awaiting each stage (printed at exit): where the latency of a query goes."""
    import atexit
    import json
    from collections.abc import Awaitable, Callable
    from typing import Any

    from xroad_vtj import query
    from xroad_vtj.audit.store import AuditStore

    spent: dict[str, list[float]] = {"append_intent": [], "append_outcome": [], "upstream": []}

    def timed(name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                spent[name].append(time.perf_counter() - started)

        return wrapper

    AuditStore.append_intent = timed("append_intent", AuditStore.append_intent)  # type: ignore[method-assign,assignment]
    AuditStore.append_outcome = timed("append_outcome", AuditStore.append_outcome)  # type: ignore[method-assign,assignment]
    query.deadline_post = timed("upstream", query.deadline_post)  # type: ignore[attr-defined,assignment]

    def report() -> None:
        medians = {k: 1000 * statistics.median(v) for k, v in spent.items() if v}
        print("stage-ms " + json.dumps(medians), flush=True)

    atexit.register(report)


def _count_commits() -> None:
    """Count the SQLite writer's batches, to show how well group commit batches (printed at exit)."""
    import atexit
    import json

    from xroad_vtj.audit import sqlite_store

    counts = {"commits": 0, "records": 0, "writer_cpu_seconds": 0.0, "writer_wall_seconds": 0.0}
    commit = sqlite_store._Writer._commit_batch

    def counted(self: sqlite_store._Writer, batch: list[sqlite_store._Job]) -> None:
        counts["commits"] += 1
        counts["records"] += len(batch)
        cpu, wall = time.thread_time(), time.perf_counter()
        commit(self, batch)
        counts["writer_cpu_seconds"] += time.thread_time() - cpu
        counts["writer_wall_seconds"] += time.perf_counter() - wall

    sqlite_store._Writer._commit_batch = counted  # type: ignore[method-assign]
    atexit.register(lambda: print("group-commit " + json.dumps(counts), flush=True))


def _start(variant: str, workdir: Path, sim_port: int) -> tuple[Child, int]:
    if variant.startswith("baseline"):
        return start_baseline(workdir, sim_port, uvloop=variant.endswith("+uvloop"))
    port = free_port()
    home = workdir / variant
    shutil.rmtree(home, ignore_errors=True)
    config = service_config(home, port=port, simulator_port=sim_port)
    argv = [PYTHON, "-m", "bench.ablation", "--serve", variant, "--config", str(config)]
    child = Child.spawn(variant, argv, workdir / f"{variant}.log", cwd=REPO)
    wait_http(child, f"http://127.0.0.1:{port}/readyz")
    return child, port


def run(
    workdir: Path, *, rounds: int, seconds: float, variants: tuple[str, ...] = DEFAULT_VARIANTS
) -> dict[str, list[tuple[float, float]]]:
    simulator, sim_port = start_simulator(workdir)
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    batches: list[dict[str, float]] = []
    try:
        for _ in range(rounds):
            for variant in variants:
                child, port = _start(variant, workdir, sim_port)
                try:
                    run_wrk(port, 2)
                    before = child.cpu_seconds()
                    result = run_wrk(port, seconds)
                    cpu = child.cpu_seconds() - before
                    if result.non_2xx or result.socket_errors:
                        raise RuntimeError(f"{variant}: errors under load")
                    results[variant].append((result.requests_per_second, 1000 * cpu / result.requests))
                finally:
                    child.stop()
                counts = _commit_counts(child.log) if variant == "full" else None
                if counts is not None:
                    batches.append(counts)
                    print(f"median wait per query in full: {_stage_ms(child.log)}", flush=True)
    finally:
        simulator.stop()
    for counts in batches:
        commits = max(counts["commits"], 1)
        print(
            f"group commit (full): {counts['records'] / commits:.1f} records per commit, writer thread "
            f"{1e6 * counts['writer_cpu_seconds'] / commits:.0f} µs CPU and "
            f"{1e6 * counts['writer_wall_seconds'] / commits:.0f} µs wall per commit, "
            f"{2e3 * counts['writer_cpu_seconds'] / max(counts['records'], 1):.2f} ms writer CPU per query"
        )
    return results


def _stage_ms(log: Path) -> str:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("stage-ms "):
            stages: dict[str, float] = json.loads(line.split(" ", 1)[1])
            return ", ".join(f"{k} {v:.1f} ms" for k, v in stages.items())
    return "?"


def _commit_counts(log: Path) -> dict[str, float] | None:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("group-commit "):
            counts: dict[str, float] = json.loads(line.split(" ", 1)[1])
            return counts
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "bench" / "ablation")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(DEFAULT_VARIANTS))
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_variant(args.serve, args.config)
        return
    results = run(args.workdir, rounds=args.rounds, seconds=args.seconds, variants=tuple(args.variants))
    print("| variant | req/s (median of rounds) | CPU per request, service process | rounds (req/s) |")
    print("|---|---|---|---|")
    for variant, figures in results.items():
        rps = statistics.median(f[0] for f in figures)
        cpu = statistics.median(f[1] for f in figures)
        rounds = ", ".join(f"{f[0]:.0f}" for f in figures)
        print(f"| {variant} | {rps:.0f} | {cpu:.2f} ms | {rounds} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
