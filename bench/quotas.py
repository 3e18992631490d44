"""Does a query's cost grow with the log? The service with the default quotas on, one query at a time, with an
empty audit store and with one pre-filled with a busy day; and ``audit search`` by subject and by end user.

    python -m bench.quotas [--fill 1000000] [--queries 300] [--pg-dsn DSN] [--only sqlite|postgresql]

The fill is ``--fill`` records (intent + outcome pairs) of the same caller, requested over the last 23 hours by
2,000 end users about 100,000 persons. The measured queries come from 30 other end users, 10 each (the first
query of an end user reads its day from the store once; the other nine are counted in memory). Reported per
backend and fill: the service process's CPU per query and the p50 latency, and the p50 of
``search(subject=…)`` and ``search(end_user=…)`` on the same store. ``--pg-dsn`` (or
``$XROAD_VTJ_TEST_PG_DSN``) is a superuser DSN: the bench creates and drops its own database. The machine is
shared: figures are noisy, compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.common import (
    PRODUCT,
    PURPOSE,
    QUERY_PATH,
    TOKEN,
    free_port,
    service_config,
    start_service,
    start_simulator,
)
from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import GENESIS, period_of, record_hash
from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.audit.keys import Keyring, new_key_text, read_key_file
from xroad_vtj.audit.records import Intent, Outcome
from xroad_vtj.audit.signing import create_signing_identity
from xroad_vtj.audit.store import open_store

HETUS = ("010280-952L", "260991-999R", "020365-999P", "311211A9527")
FILL_END_USERS = 2000
PROBE_END_USERS = 30
DEFAULT_QUOTAS = {"per_caller_per_minute": None}  # the rest are the shipped defaults


@dataclass(frozen=True)
class Figures:
    backend: str
    fill: int
    cpu_ms: float
    p50_ms: float
    refused: int
    search_subject_ms: float
    search_end_user_ms: float
    ready_seconds: float  # spawn to ready (the start-up sweep reads the day's intents)


def fill_subject(query: int) -> str:
    """The person the fill's ``query``-th query asks about: 100,000 persons, each asked about about five times a
    day (the text only has to be stored and blind-indexed: it is never sent anywhere)."""
    return f"{query % 100_000:06d}-9{query % 100:02d}X"


def fill_rows(n: int, keyring: Keyring, start_seq: int = 1) -> Iterator[tuple[int, int, str, bytes]]:
    """``n`` chained records (intent, outcome, ...) of the caller ``bench`` spread over the last 23 hours."""
    now = datetime.now(UTC)
    prev, audit_id = GENESIS, ""
    first = now - timedelta(hours=23)
    for i in range(n):
        at = first + timedelta(seconds=(i // 2) * (23 * 3600 / max(1, n // 2)))
        period = period_of(now)
        if i % 2 == 0:
            audit_id = codec.new_audit_id()
            intent = Intent(
                caller="bench",
                end_user=f"fill-{(i // 2) % FILL_END_USERS}",
                purpose=f"case-{i}",
                product=PRODUCT,
                client="FI-TEST/MUN/0101263-6/caseapp",
                service="FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1",
                xroad_message_id=f"fill-{i}",
                subject=fill_subject(i // 2),
                request_sha512="z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
                requested_at=at,
            )
            body = codec.intent_body(intent, audit_id, "fill", keyring)
        else:
            outcome = Outcome("found", at, 0.2, 200, None, "0000", None, None, None, "z4Ph", ("name",))
            body = codec.outcome_body(audit_id, "fill", outcome, keyring)  # with its record MAC, as served
        seq = start_seq + i
        prev = record_hash(prev, seq, period, body.encode())
        yield seq, period, body, prev


def fill_sqlite(path: Path, n: int, keyring: Keyring) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # generating test data, not auditing
    rows = fill_rows(n, keyring)
    while chunk := [r for _, r in zip(range(20_000), rows, strict=False)]:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO audit_record (seq, period, body, hash) VALUES (?, ?, ?, ?)", chunk)
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def fill_pg(dsn: str, n: int, keyring: Keyring) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        # COPY fires the trigger that fills the searchable columns, like the service's own inserts
        with cur.copy("COPY xroad_vtj_audit.record (seq, period, body, hash) FROM STDIN") as copy:
            for row in fill_rows(n, keyring):
                copy.write_row(row)
        conn.commit()
        conn.execute("ANALYZE xroad_vtj_audit.record")


def audit_section(workdir: Path, backend: str, dsn: str | None) -> dict[str, Any]:
    keys = workdir / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "data.key").write_text(new_key_text())
    os.chmod(keys / "data.key", 0o600)
    create_signing_identity(keys / "signing.key", keys / "signing.crt")
    section: dict[str, Any] = {
        "backend": backend,
        "data_key_file": str(keys / "data.key"),
        "signing_key_file": str(keys / "signing.key"),
        "signing_cert_file": str(keys / "signing.crt"),
        "checkpoint_dir": str(workdir / "checkpoints"),
    }
    if backend == "sqlite":
        section["sqlite_path"] = str(workdir / "audit.sqlite3")
    else:
        section["dsn"] = dsn
    return section


def one_at_a_time(port: int, queries: int) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    latencies: list[float] = []
    refused = 0
    try:
        for i in range(queries):
            body = json.dumps(
                {
                    "hetu": HETUS[i % 4],
                    "product": PRODUCT,
                    "end_user": f"probe-{i % PROBE_END_USERS}",
                    "purpose": PURPOSE,
                }
            )
            start = time.perf_counter()
            conn.request(
                "POST",
                QUERY_PATH,
                body,
                {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            answer = conn.getresponse()
            answer.read()
            latencies.append(time.perf_counter() - start)
            refused += answer.status != 200
    finally:
        conn.close()
    return latencies, refused


async def search_times(config: AuditConfig, rounds: int = 20) -> tuple[float, float]:
    store = open_store(config, instance="bench-search")
    await store.open(checkpoints=False)
    try:
        by_subject: list[float] = []
        by_end_user: list[float] = []
        since = datetime.now(UTC) - timedelta(days=1)
        for i in range(rounds):
            start = time.perf_counter()
            await store.search(subject=fill_subject(i * 7919), since=since, limit=100)
            by_subject.append(time.perf_counter() - start)
            start = time.perf_counter()
            await store.search(end_user=f"fill-{i}", since=since, limit=100)
            by_end_user.append(time.perf_counter() - start)
        return statistics.median(by_subject) * 1000, statistics.median(by_end_user) * 1000
    finally:
        await store.close()


def measure(workdir: Path, backend: str, fill: int, queries: int, dsn: str | None) -> Figures:
    workdir.mkdir(parents=True, exist_ok=True)
    simulator, sim_port = start_simulator(workdir)
    service = None
    try:
        port = free_port()
        config_path = service_config(workdir / "service", port=port, simulator_port=sim_port)
        raw = yaml.safe_load(config_path.read_text())
        raw["audit"] = audit_section(workdir / "service", backend, dsn)
        raw["callers"][0]["quotas"] = DEFAULT_QUOTAS
        config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        audit = parse_audit_config(raw["audit"], workdir / "service")
        assert audit.data_key_file is not None
        keyring = Keyring(read_key_file(audit.data_key_file, "data key"))
        if backend == "sqlite":
            asyncio.run(_create(audit))  # the schema, as the service would
            assert audit.sqlite_path is not None
            if fill:
                fill_sqlite(audit.sqlite_path, fill, keyring)
        elif fill:
            assert dsn is not None
            fill_pg(dsn, fill, keyring)
        # a first start on a full log sweeps a day of intents for ones without an outcome: allow for it
        service = start_service(config_path, port, workdir / "service.log", timeout=300)
        ready = service.ready_seconds or 0.0
        one_at_a_time(port, 20)  # warm-up (other end users)
        before = service.cpu_seconds()
        latencies, refused = one_at_a_time(port, queries)
        cpu = service.cpu_seconds() - before
        service.stop()
        service = None
        subject_ms, end_user_ms = asyncio.run(search_times(audit))
        return Figures(
            backend,
            fill,
            1000 * cpu / queries,
            statistics.median(latencies) * 1000,
            refused,
            subject_ms,
            end_user_ms,
            ready,
        )
    finally:
        if service is not None:
            service.stop()
        simulator.stop()


async def _create(config: AuditConfig) -> None:
    store = open_store(config, instance="bench-create")
    await store.open(checkpoints=False)
    await store.close()


def pg_database(admin: str) -> tuple[str, str]:
    from xroad_vtj.audit.pg_schema import migrate

    name = f"xvtj_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = make_conninfo(admin, dbname=name)
    migrate(dsn)
    return name, dsn


def drop_pg(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run(fill: int, queries: int, pg_dsn: str | None, only: str | None = None) -> list[Figures]:
    out: list[Figures] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for backend in ("sqlite", "postgresql"):
            if only not in (None, backend) or (backend == "postgresql" and not pg_dsn):
                continue
            for n in (0, fill):
                if backend == "sqlite":
                    out.append(measure(base / f"sqlite-{n}", backend, n, queries, None))
                    continue
                assert pg_dsn is not None
                name, dsn = pg_database(pg_dsn)
                try:
                    out.append(measure(base / f"pg-{n}", backend, n, queries, dsn))
                finally:
                    drop_pg(pg_dsn, name)
    return out


def table(figures: list[Figures]) -> str:
    lines = [
        "| backend | records in the store | service CPU per query | p50 latency | refused | search by subject p50 |"
        " search by end user p50 | start-up to ready |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        lines.append(
            f"| {f.backend} | {f.fill:,} | {f.cpu_ms:.2f} ms | {f.p50_ms:.2f} ms | {f.refused} |"
            f" {f.search_subject_ms:.2f} ms | {f.search_end_user_ms:.2f} ms | {f.ready_seconds:.2f} s |"
        )
    return "\n".join(lines)


def default_pg_dsn() -> str | None:
    return os.environ.get("XROAD_VTJ_TEST_PG_DSN")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--fill", type=int, default=1_000_000, help="records of the last day in the filled store"
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--pg-dsn", default=os.environ.get("XROAD_VTJ_TEST_PG_DSN"), help="superuser DSN")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    print(table(run(args.fill, args.queries, args.pg_dsn, args.only)))


if __name__ == "__main__":
    main()
