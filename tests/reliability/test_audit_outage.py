"""The audit store fails: queries get 503 ``audit_unavailable`` and nothing reaches the security server;
``/readyz`` fails; when the store is back the service recovers by itself and ``audit verify`` passes.

SQLite: the database files are made immutable (``chattr +i``), which the kernel enforces even for root
(file modes do not bind root). A full disk is simulated per process with ``RLIMIT_FSIZE`` (``prlimit``
on the running service process): every write past the limit fails with EFBIG, exactly as on a full disk.
PostgreSQL: a throwaway cluster of our own is stopped and started (never the shared one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import AUDITOR_TOKEN, TOKEN, Running, ServiceFactory, Sim, base_config
from tests.reliability.backends import ThrowawayPostgres, migrate_or_skip, own_database, pg_section
from tests.reliability.conftest import eventually, free_port, wait_until
from tests.reliability.processes import cli, start_service_process, write_config


def sqlite_files(tmp_path: Path) -> list[str]:
    # The shared-memory index is mmapped; the database and its WAL are what a commit writes.
    return [str(p) for p in sorted(tmp_path.glob("audit.sqlite3*")) if not p.name.endswith("-shm")]


@contextlib.contextmanager
def immutable(files: list[str]) -> Iterator[None]:
    """Writes to ``files`` fail from now on, also through descriptors already open (unlike a chmod)."""
    # The full-disk test below covers the same path where this cannot run.
    if shutil.which("chattr") is None or os.geteuid() != 0:
        pytest.skip("chattr +i needs the chattr tool and root")
    done = subprocess.run(["chattr", "+i", *files], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("this file system does not support chattr +i")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


async def answered(running: Running) -> bool:
    status, _, _ = await running.query()
    return status == 200


async def test_a_read_only_sqlite_store_refuses_queries_sends_nothing_and_recovers_by_itself(
    running: Running, simulator: Sim, tmp_path: Path
) -> None:
    assert await answered(running)
    sent = len(simulator.received)
    with immutable(sqlite_files(tmp_path)):
        for _ in range(3):
            status, body, _ = await running.query()
            assert (status, body["code"]) == (503, "audit_unavailable")
        assert len(simulator.received) == sent
    await eventually(lambda: answered(running))  # no restart; each failed try was a 503, never a send
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")
    status, report = await running.get("/v1/audit/verify", AUDITOR_TOKEN)
    assert (status, report["ok"]) == (200, True)


async def test_an_answer_that_cannot_be_audited_is_withheld_and_the_query_is_outcome_unknown_after_restart(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = base_config(tmp_path, simulator.url)
    running: Running = await start_service(raw)
    assert await answered(running)
    simulator.knobs(latency_seconds=0.5)
    out = asyncio.create_task(running.query(end_user="caught-out"))
    await wait_until(lambda: len(simulator.received) == 2)
    with immutable(sqlite_files(tmp_path)):  # the outcome cannot be written
        status, body, _ = await out
    assert (status, body["code"]) == (503, "audit_unavailable")
    assert "person" not in body
    assert body["xroad_message_id"] == simulator.received[1]

    await running.service.drain()
    await running.service.stop()
    restarted: Running = await start_service(raw)  # same instance name: marked by the first sweep
    async with asyncio.timeout(20):
        await restarted.service.store.sweep_done.wait()
    (record,) = await restarted.service.store.search(end_user="caught-out")
    assert (record["outcome"], record["xroad_message_id"]) == ("outcome_unknown", body["xroad_message_id"])


async def test_readiness_fails_while_the_sqlite_store_cannot_write(running: Running, tmp_path: Path) -> None:
    assert await answered(running)
    with immutable(sqlite_files(tmp_path)):
        await running.query()
        status, body = await running.get("/readyz")
        assert (status, body["checks"]["audit_store"]) == (503, "unavailable")


async def test_the_first_query_after_the_sqlite_store_is_writable_again_is_served(
    running: Running, tmp_path: Path
) -> None:
    assert await answered(running)
    with immutable(sqlite_files(tmp_path)):
        await running.query()
        await running.get("/readyz")  # the store reconnects here, while the file is still read-only
    assert await answered(running)


@pytest.mark.slow
async def test_a_full_disk_fails_readiness_refuses_queries_sends_nothing_and_recovers_when_space_is_back(
    simulator: Sim, tmp_path: Path
) -> None:
    config = write_config(base_config(tmp_path, simulator.url), tmp_path / "config.yaml")
    service = await start_service_process(config)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    payload = {"hetu": "010280-952L", "end_user": "disk", "purpose": "CASE-1"}

    async def query(session: aiohttp.ClientSession) -> tuple[int, str | None]:
        async with session.post(f"{service.base}/v1/person-queries", json=payload, headers=headers) as r:
            return r.status, (await r.json(content_type=None)).get("code")

    async def readyz(session: aiohttp.ClientSession) -> int:
        async with session.get(f"{service.base}/readyz") as r:
            return r.status

    try:
        async with aiohttp.ClientSession() as session:
            assert (await query(session))[0] == 200
            sent = len(simulator.received)
            limits = resource.prlimit(service.pid, resource.RLIMIT_FSIZE)
            resource.prlimit(service.pid, resource.RLIMIT_FSIZE, (1, limits[1]))  # the disk is full
            for _ in range(3):
                assert await query(session) == (503, "audit_unavailable")
            assert len(simulator.received) == sent
            assert await readyz(session) == 503
            resource.prlimit(service.pid, resource.RLIMIT_FSIZE, limits)  # space is back

            async def ready() -> bool:
                return await readyz(session) == 200

            await eventually(ready)  # by itself, before any query
            assert (await query(session))[0] == 200
    finally:
        await service.stop()
    code, _, err = await cli("audit", "verify", "--config", str(config))
    assert code == 0, err


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[ThrowawayPostgres]:
    cluster = ThrowawayPostgres(free_port())
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def throwaway_pg(pg_cluster: ThrowawayPostgres) -> ThrowawayPostgres:
    """The module's own cluster, running (a test may stop it; it is started again after the test)."""
    pg_cluster.ensure_running()
    return pg_cluster


@pytest.fixture
def pg_dsn(throwaway_pg: ThrowawayPostgres) -> Iterator[str]:
    """A database of the test's own; request it before ``start_service`` so the service stops first."""
    with own_database(throwaway_pg.dsn) as dsn:
        yield dsn
        throwaway_pg.ensure_running()  # the test may have stopped it


async def pg_service(
    dsn: str, simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> tuple[Path, Running]:
    raw = base_config(tmp_path, simulator.url, audit=pg_section(dsn, tmp_path / "keys"))
    config = write_config(raw, tmp_path / "config.yaml")
    code, _, err = await cli("audit", "migrate", "--config", str(config))
    migrate_or_skip(code, err)
    running: Running = await start_service(raw)
    return config, running


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgresql_stopped_mid_run_refuses_queries_sends_nothing_and_the_service_recovers_by_itself(
    throwaway_pg: ThrowawayPostgres,
    pg_dsn: str,
    simulator: Sim,
    start_service: ServiceFactory,
    tmp_path: Path,
) -> None:
    config, running = await pg_service(pg_dsn, simulator, start_service, tmp_path)
    assert await answered(running)

    # A query already out when PostgreSQL goes: its answer cannot be audited, so it is not given.
    simulator.knobs(latency_seconds=1.0)
    out = asyncio.create_task(running.query(end_user="caught-out"))
    await wait_until(lambda: len(simulator.received) == 2)
    throwaway_pg.stop()
    status, body, _ = await out
    assert (status, body["code"]) == (503, "audit_unavailable")
    assert "person" not in body
    simulator.knobs(latency_seconds=0.0)

    sent = len(simulator.received)
    status, body, _ = await running.query()
    assert (status, body["code"]) == (503, "audit_unavailable")
    assert len(simulator.received) == sent
    status, ready = await running.get("/readyz")
    assert (status, ready["checks"]["audit_store"]) == (503, "unavailable")

    throwaway_pg.start()

    async def is_ready() -> bool:
        return (await running.get("/readyz"))[0] == 200

    await eventually(is_ready)
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")
    code, _, err = await cli("audit", "verify", "--config", str(config))
    assert code == 0, err


@pytest.mark.slow
@pytest.mark.postgres
async def test_with_postgresql_down_a_query_is_refused_within_the_readiness_probe_timeout(
    throwaway_pg: ThrowawayPostgres,
    pg_dsn: str,
    simulator: Sim,
    start_service: ServiceFactory,
    tmp_path: Path,
) -> None:
    _, running = await pg_service(pg_dsn, simulator, start_service, tmp_path)
    assert await answered(running)
    throwaway_pg.stop()
    try:
        await running.query()  # the first failure may take a connection attempt
        async with asyncio.timeout(2.0):  # the bound /readyz gives the store's ping
            status, body, _ = await running.query()
        assert (status, body["code"]) == (503, "audit_unavailable")
    finally:
        throwaway_pg.start()
