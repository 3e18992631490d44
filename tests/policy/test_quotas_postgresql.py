"""Quotas hold across replicas: two real service processes sharing one PostgreSQL audit store.

Needs ``XROAD_VTJ_TEST_PG_DSN`` (a superuser DSN; each test creates and drops its own database). Without it the
test skips, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import Sim, base_config, sha
from tests.policy.helpers import bearer, caller
from tests.policy.processes import ServiceProcess, start_service_process
from xroad_vtj.audit.keys import new_key_text, write_private
from xroad_vtj.audit.signing import create_signing_identity

PG_ENV = "XROAD_VTJ_TEST_PG_DSN"
HETUS = ["010280-952L", "260991-999R", "020365-999P", "311211A9527"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and PostgreSQL tests never skip in CI")
    pytest.skip(reason)


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A fresh database of its own, migrated by the superuser; the DSN of its application role (SELECT, INSERT)."""
    admin = os.environ.get(PG_ENV)
    if not admin:
        _unavailable(f"{PG_ENV} is not set")
    if importlib.util.find_spec("xroad_vtj.audit.pg_schema") is None:
        _unavailable("the PostgreSQL audit store is not in this build")
    from xroad_vtj.audit.pg_schema import migrate  # type: ignore[import-not-found,unused-ignore]

    assert admin is not None
    suffix = secrets.token_hex(4)
    name, role, password = f"xvtj_policy_{suffix}", f"xvtj_policy_app_{suffix}", secrets.token_hex(16)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), password))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        migrate(make_conninfo(admin, dbname=name), app_role=role)
        yield make_conninfo(admin, dbname=name, user=role, password=password)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def pg_audit(dsn: str, keys: Path) -> dict[str, Any]:
    """The audit section for PostgreSQL, with the key files an operator provides (generated here)."""
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "dsn").write_text(dsn + "\n")
    write_private(keys / "data.key", new_key_text().encode())
    create_signing_identity(keys / "signing.key", keys / "signing.crt")
    return {
        "backend": "postgresql",
        "dsn_file": str(keys / "dsn"),
        "data_key_file": str(keys / "data.key"),
        "signing_key_file": str(keys / "signing.key"),
        "signing_cert_file": str(keys / "signing.crt"),
        "checkpoint_dir": str(keys / "checkpoints"),
    }


@pytest.fixture
async def replicas(simulator: Sim, pg_dsn: str, tmp_path: Path) -> AsyncIterator[list[ServiceProcess]]:
    raw = base_config(tmp_path, simulator.url)
    raw["audit"] = pg_audit(pg_dsn, tmp_path / "keys")
    raw["callers"] = [
        caller(
            "bulk",
            sha("bulk-token"),
            quotas={
                "per_end_user_per_minute": 4,
                "per_end_user_per_day": None,
                "per_caller_per_minute": 7,
                "distinct_subjects_per_end_user_per_day": None,
            },
        ),
        caller(
            "browse",
            sha("browse-token"),
            quotas={
                "per_end_user_per_minute": None,
                "per_end_user_per_day": 5,
                "per_caller_per_minute": None,
                "distinct_subjects_per_end_user_per_day": 2,
            },
        ),
    ]
    started: list[ServiceProcess] = []
    try:
        for name in ("replica-a", "replica-b"):
            started.append(await start_service_process(raw, tmp_path, name))
        yield started
    finally:
        for process in started:
            await process.stop()


async def ask(
    session: aiohttp.ClientSession, replica: ServiceProcess, token: str, end_user: str, hetu: str = HETUS[0]
) -> tuple[int, dict[str, Any], Any]:
    body = {"hetu": hetu, "end_user": end_user, "purpose": "CASE-2026-4"}
    async with session.post(f"{replica.base}/v1/person-queries", json=body, headers=bearer(token)) as r:
        return r.status, await r.json(content_type=None), r.headers


def refused(answer: tuple[int, dict[str, Any], Any], quota: str) -> bool:
    status, body, headers = answer
    return (status, body.get("code"), body.get("quota")) == (429, "quota_exceeded", quota) and int(
        headers["Retry-After"]
    ) > 0


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_processes_sharing_postgresql_enforce_every_quota_together(
    replicas: list[ServiceProcess], simulator: Sim
) -> None:
    a, b = replicas
    assert a.pid != b.pid
    async with aiohttp.ClientSession() as s:
        # per end user per minute = 4: alternate the replicas, two queries each
        for replica in (a, b, a, b):
            status, body, _ = await ask(s, replica, "bulk-token", "officer.u")
            assert status == 200, body
        assert refused(await ask(s, a, "bulk-token", "officer.u"), "per_end_user_per_minute")
        assert refused(await ask(s, b, "bulk-token", "officer.u"), "per_end_user_per_minute")

        # per caller per minute = 7: four used above, three more by another end user, on both replicas
        for replica in (b, a, b):
            assert (await ask(s, replica, "bulk-token", "officer.v"))[0] == 200
        assert refused(await ask(s, a, "bulk-token", "officer.w"), "per_caller_per_minute")
        assert refused(await ask(s, b, "bulk-token", "officer.w"), "per_caller_per_minute")

        # distinct subjects per end user per day = 2: one person on each replica, a third refused on both
        assert (await ask(s, a, "browse-token", "officer.x", HETUS[0]))[0] == 200
        assert (await ask(s, b, "browse-token", "officer.x", HETUS[1]))[0] == 200
        for replica in (a, b):
            answer = await ask(s, replica, "browse-token", "officer.x", HETUS[2])
            assert refused(answer, "distinct_subjects_per_end_user_per_day")
        # ... while a person already asked about on the other replica is still served
        assert (await ask(s, b, "browse-token", "officer.x", HETUS[0]))[0] == 200
        assert (await ask(s, a, "browse-token", "officer.x", HETUS[1]))[0] == 200

        # per end user per day = 5: four used by officer.x, one more on either replica, then refused on both
        assert (await ask(s, b, "browse-token", "officer.x", HETUS[1]))[0] == 200
        assert refused(await ask(s, a, "browse-token", "officer.x", HETUS[0]), "per_end_user_per_day")
        assert refused(await ask(s, b, "browse-token", "officer.x", HETUS[0]), "per_end_user_per_day")
    # exactly the queries that were allowed reached the security server
    assert len(simulator.received) == 4 + 3 + 2 + 2 + 1
