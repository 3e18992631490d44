"""The audit writer alone: records per commit and writer CPU per query under concurrent queries, and the cost of
encoding record bodies.

    python -m bench.writer [--queries 32] [--rounds 20] [--pg-dsn DSN]

Each simulated query appends its intent, waits 1 ms (the upstream) and appends its outcome, ``--rounds`` times,
``--queries`` at once, against a durable store (SQLite ``synchronous=FULL``; PostgreSQL when a superuser DSN is
given: the bench creates and drops its own database). Writer CPU is the SQLite writer thread's own CPU time
(``time.thread_time`` around each commit); for PostgreSQL the writer is a task on the event loop, so its CPU is
not separable and only the batch sizes are reported. The machine is shared: CPU figures are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xroad_vtj.audit import codec, sqlite_store
from xroad_vtj.audit.config import parse_audit_config
from xroad_vtj.audit.keys import DataKey, Keyring
from xroad_vtj.audit.records import Intent, Outcome
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.metrics import Metrics


@dataclass(frozen=True)
class WriterFigures:
    backend: str
    queries: int
    median_batch: float
    commits: int
    writer_cpu_per_query_ms: float | None


def sample_intent(i: int) -> Intent:
    from datetime import UTC, datetime

    return Intent(
        caller="bench",
        end_user=f"officer-{i % 50}",
        purpose=f"case-{i}",
        product="PERUSSANOMA 1",
        client="FI-TEST/MUN/0101263-6/caseapp",
        service="FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1",
        xroad_message_id=f"w-{i}",
        subject="010280-952L",
        request_sha512="z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
        requested_at=datetime.now(UTC),
    )


def sample_outcome() -> Outcome:
    from datetime import UTC, datetime

    return Outcome("found", datetime.now(UTC), 0.2, 200, None, "0000", None, None, None, "z4Ph", ("name",))


def batch_sizes(metrics: Metrics) -> list[float]:
    """Per-bucket commit counts of the batch histogram, expanded to one value per commit (bucket bound)."""
    cumulative = sorted(
        (float(s.labels["le"]), s.value)
        for m in metrics.registry.collect()
        if m.name == "xroad_vtj_audit_batch_records"
        for s in m.samples
        if s.name.endswith("_bucket")
    )
    out: list[float] = []
    previous = 0.0
    for bound, count in cumulative:
        out += [bound] * int(count - previous)
        previous = count
    return out


async def concurrent_queries(store: AuditStore, queries: int, rounds: int) -> None:
    async def query(w: int) -> None:
        for r in range(rounds):
            audit_id = await store.append_intent(sample_intent(w * rounds + r))
            await asyncio.sleep(0.001)
            await store.append_outcome(audit_id, sample_outcome())

    await asyncio.gather(*[query(w) for w in range(queries)])


def measure(raw: dict[str, Any], base: Path, backend: str, queries: int, rounds: int) -> WriterFigures:
    cpu = {"seconds": 0.0}
    commit = sqlite_store._Writer._commit_batch

    def timed(self: sqlite_store._Writer, batch: list[sqlite_store._Job]) -> None:
        start = time.thread_time()
        commit(self, batch)
        cpu["seconds"] += time.thread_time() - start

    async def run() -> WriterFigures:
        metrics = Metrics()
        store = open_store(parse_audit_config(raw, base), instance="bench", metrics=metrics)
        await store.open(checkpoints=False)
        try:
            await concurrent_queries(store, queries, rounds)
        finally:
            await store.close()
        sizes = batch_sizes(metrics)
        total = queries * rounds
        return WriterFigures(
            backend,
            queries,
            statistics.median(sizes) if sizes else 0.0,
            len(sizes),
            1000 * cpu["seconds"] / total if backend == "sqlite" else None,
        )

    sqlite_store._Writer._commit_batch = timed  # type: ignore[method-assign]
    try:
        return asyncio.run(run())
    finally:
        sqlite_store._Writer._commit_batch = commit  # type: ignore[method-assign]


def encoding_us(n: int = 5000) -> tuple[float, float]:
    """CPU per intent body and per outcome body (canonical JSON, AES-GCM, blind index, timestamps)."""
    keyring = Keyring(DataKey.from_bytes(os.urandom(32)))
    intent, outcome = sample_intent(1), sample_outcome()
    start = time.process_time()
    for _ in range(n):
        codec.intent_body(intent, codec.new_audit_id(), "bench", keyring)
    intent_cost = (time.process_time() - start) / n
    start = time.process_time()
    for _ in range(n):
        codec.outcome_body("id", "bench", outcome, keyring)
    return intent_cost * 1e6, (time.process_time() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--queries", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pg-dsn", default=os.environ.get("XROAD_VTJ_TEST_PG_DSN"), help="superuser DSN")
    args = parser.parse_args()
    results: list[WriterFigures] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        raw = {"backend": "sqlite", "sqlite_path": str(base / "w.sqlite3")}
        results.append(measure(raw, base, "sqlite", args.queries, args.rounds))
        if args.pg_dsn:
            from bench.quotas import audit_section, drop_pg, pg_database

            name, dsn = pg_database(args.pg_dsn)
            try:
                section = audit_section(base / "pg", "postgresql", dsn)
                results.append(measure(section, base / "pg", "postgresql", args.queries, args.rounds))
            finally:
                drop_pg(args.pg_dsn, name)
    print("| backend | concurrent queries | commits | median records per commit | writer CPU per query |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        cpu = (
            f"{r.writer_cpu_per_query_ms:.3f} ms" if r.writer_cpu_per_query_ms is not None else "(event loop)"
        )
        print(f"| {r.backend} | {r.queries} | {r.commits} | {r.median_batch:g} | {cpu} |")
    intent_us, outcome_us = encoding_us()
    print(f"\nencoding: intent body {intent_us:.0f} µs, outcome body {outcome_us:.0f} µs of CPU")


if __name__ == "__main__":
    main()
