"""The audit writer alone: records per commit and writer CPU per query under concurrent queries, and the cost of
encoding record bodies.

    python -m bench.writer [--queries 32] [--rounds 20] [--keys bench|realistic] [--pg-dsn DSN]

Each simulated query appends its intent, waits 1 ms (the upstream) and appends its outcome, ``--rounds`` times,
``--queries`` at once, against a durable store (SQLite ``synchronous=FULL``; PostgreSQL when a superuser DSN is
given: the bench creates and drops its own database).

Figures per query (intent and outcome):
- SQLite writer CPU: the writer thread's own CPU time (``time.thread_time``) around each commit, and over the
  thread's whole life (the commits plus waking up for each batch);
- PostgreSQL: the writer is a task on the event loop, so its CPU is not separable; the server's CPU instead
  (the bench database's backends, from ``/proc``);
- process CPU: the whole bench process (the simulated queries' encoding included), for both backends.

``--keys bench`` (the default, as in earlier runs) writes one subject, 50 end users and sequential message ids:
few index pages change per commit. ``--keys realistic`` writes what a service sees: a subject, an X-Road
message id (a random UUID) and one of 2,000 end users per query, random, so each indexed column's entry lands
on a page of its own. The machine is shared: CPU figures are noisy; compare runs side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
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
    writer_cpu_per_query_ms: float | None  # SQLite: in commits
    thread_cpu_per_query_ms: float | None  # SQLite: the writer thread's whole life
    server_cpu_per_query_ms: float | None  # PostgreSQL: the bench database's backends
    process_cpu_per_query_ms: float


def sample_intent(i: int, keys: str = "bench") -> Intent:
    from datetime import UTC, datetime

    realistic = keys == "realistic"
    rnd = random.Random(i)
    return Intent(
        caller="bench",
        end_user=f"officer-{rnd.randrange(2000) if realistic else i % 50}",
        purpose=f"case-{i}",
        product="PERUSSANOMA 1",
        client="FI-TEST/MUN/0101263-6/caseapp",
        service="FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1",
        xroad_message_id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)) if realistic else f"w-{i}",
        subject=_test_person(rnd) if realistic else "010280-952L",
        request_sha512="z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
        requested_at=datetime.now(UTC),
    )


def sample_outcome() -> Outcome:
    from datetime import UTC, datetime

    return Outcome("found", datetime.now(UTC), 0.2, 200, None, "0000", None, None, None, "z4Ph", ("name",))


def _test_person(rnd: random.Random) -> str:
    """A random test person's hetu shape: individual number 900-999 (the check character is not checked)."""
    return f"{rnd.randrange(1, 29):02d}{rnd.randrange(1, 13):02d}{rnd.randrange(30, 99)}-9{rnd.randrange(100):02d}X"


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


async def concurrent_queries(store: AuditStore, queries: int, rounds: int, keys: str = "bench") -> None:
    async def query(w: int) -> None:
        for r in range(rounds):
            audit_id = await store.append_intent(sample_intent(w * rounds + r, keys))
            await asyncio.sleep(0.001)
            await store.append_outcome(audit_id, sample_outcome())

    await asyncio.gather(*[query(w) for w in range(queries)])


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process on this machine, from ``/proc`` (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backend_cpu(dsn: str) -> dict[int, float]:
    """CPU seconds of every server process connected to the database of ``dsn`` (a local server)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {int(r[0]): _proc_cpu(int(r[0])) for r in await cur.fetchall()}


def measure(
    raw: dict[str, Any], base: Path, backend: str, queries: int, rounds: int, keys: str = "bench"
) -> WriterFigures:
    cpu = {"commits": 0.0, "thread": 0.0}
    commit = sqlite_store._Writer._commit_batch
    loop_body = sqlite_store._Writer._run

    def timed(self: sqlite_store._Writer, batch: list[sqlite_store._Job]) -> None:
        start = time.thread_time()
        commit(self, batch)
        cpu["commits"] += time.thread_time() - start

    def whole(self: sqlite_store._Writer) -> None:
        start = time.thread_time()
        try:
            loop_body(self)
        finally:
            cpu["thread"] += time.thread_time() - start

    async def run() -> WriterFigures:
        metrics = Metrics()
        store = open_store(parse_audit_config(raw, base), instance="bench", metrics=metrics)
        await store.open(checkpoints=False)
        dsn = raw.get("dsn") if backend == "postgresql" else None
        try:
            server_before = await _backend_cpu(dsn) if dsn else {}
            process_before = time.process_time()
            await concurrent_queries(store, queries, rounds, keys)
            process = time.process_time() - process_before
            server_after = await _backend_cpu(dsn) if dsn else {}
        finally:
            await store.close()
        sizes = batch_sizes(metrics)
        total = queries * rounds
        server = sum(v - server_before.get(pid, 0.0) for pid, v in server_after.items())
        return WriterFigures(
            backend,
            queries,
            statistics.median(sizes) if sizes else 0.0,
            len(sizes),
            1000 * cpu["commits"] / total if backend == "sqlite" else None,
            1000 * cpu["thread"] / total if backend == "sqlite" else None,
            1000 * server / total if dsn else None,
            1000 * process / total,
        )

    sqlite_store._Writer._commit_batch = timed  # type: ignore[method-assign]
    sqlite_store._Writer._run = whole  # type: ignore[method-assign]
    try:
        return asyncio.run(run())
    finally:
        sqlite_store._Writer._commit_batch = commit  # type: ignore[method-assign]
        sqlite_store._Writer._run = loop_body  # type: ignore[method-assign]


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


def insert_us(base: Path, records: int = 4000, prefill: int = 20_000, batch: int = 16) -> tuple[float, float]:
    """Writer CPU per record inserted, in microseconds: ``(the INSERT, INSERT and durable COMMIT)``, in batches
    of ``batch`` records as a service writes them (intents with realistic keys, each followed by its outcome a
    few records later) onto a log already holding ``prefill``; one thread, nothing else running in it."""
    keyring = Keyring(DataKey.from_bytes(os.urandom(32)))
    bodies: list[str] = []
    open_ids: list[str] = []
    for i in range(prefill + records):
        if len(open_ids) < 16:
            audit_id = codec.new_audit_id()
            bodies.append(codec.intent_body(sample_intent(i, "realistic"), audit_id, "bench", keyring))
            open_ids.append(audit_id)
        else:
            bodies.append(codec.outcome_body(open_ids.pop(i % 16), "bench", sample_outcome(), keyring))
    conn = sqlite_store.connect(base / "insert.sqlite3")
    try:
        sqlite_store.migrate(conn)
        conn.execute("BEGIN IMMEDIATE")
        sqlite_store.insert_chained(conn, bodies[:prefill])
        conn.execute("COMMIT")
        inserting = committing = 0.0
        for i in range(prefill, prefill + records, batch):
            start = time.thread_time()
            conn.execute("BEGIN IMMEDIATE")
            sqlite_store.insert_chained(conn, bodies[i : i + batch])
            inserted = time.thread_time()
            conn.execute("COMMIT")
            inserting += inserted - start
            committing += time.thread_time() - inserted
    finally:
        conn.close()
    return inserting / records * 1e6, (inserting + committing) / records * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--queries", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keys", choices=("bench", "realistic"), default="bench")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), help="only this one")
    parser.add_argument("--pg-dsn", default=os.environ.get("XROAD_VTJ_TEST_PG_DSN"), help="superuser DSN")
    args = parser.parse_args()
    results: list[WriterFigures] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        raw = {"backend": "sqlite", "sqlite_path": str(base / "w.sqlite3")}
        if args.backend in (None, "sqlite"):
            results.append(measure(raw, base, "sqlite", args.queries, args.rounds, args.keys))
        if args.pg_dsn and args.backend in (None, "postgresql"):
            from bench.quotas import audit_section, drop_pg, pg_database

            name, dsn = pg_database(args.pg_dsn)
            try:
                section = audit_section(base / "pg", "postgresql", dsn)
                results.append(
                    measure(section, base / "pg", "postgresql", args.queries, args.rounds, args.keys)
                )
            finally:
                drop_pg(args.pg_dsn, name)
        inserts = insert_us(base) if args.backend in (None, "sqlite") else None
    print(f"keys: {args.keys}")
    print(
        "| backend | concurrent queries | commits | median records per commit | writer CPU per query"
        " (commits / whole thread) | database server CPU per query | process CPU per query |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        writer = (
            f"{r.writer_cpu_per_query_ms:.3f} / {r.thread_cpu_per_query_ms:.3f} ms"
            if r.writer_cpu_per_query_ms is not None and r.thread_cpu_per_query_ms is not None
            else "(event loop)"
        )
        server = (
            f"{r.server_cpu_per_query_ms:.3f} ms" if r.server_cpu_per_query_ms is not None else "(in process)"
        )
        print(
            f"| {r.backend} | {r.queries} | {r.commits} | {r.median_batch:g} | {writer} | {server}"
            f" | {r.process_cpu_per_query_ms:.3f} ms |"
        )
    if inserts is not None:
        print(
            f"\nSQLite insert, batches of 16 realistic records onto 20,000: {inserts[0]:.0f} µs per record"
            f" ({inserts[1]:.0f} µs with its share of the durable commit)"
        )
    intent_us, outcome_us = encoding_us()
    print(f"encoding: intent body {intent_us:.0f} µs, outcome body {outcome_us:.0f} µs of CPU")


if __name__ == "__main__":
    main()
