"""Fixtures: real SQLite files and real PostgreSQL databases (one per test, cloned from a migrated template).

PostgreSQL tests need ``XROAD_VTJ_TEST_PG_DSN`` (a superuser DSN); without it they skip, except under CI
(``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.audit.keys import new_key_text
from xroad_vtj.audit.pg_schema import migrate
from xroad_vtj.audit.signing import create_signing_identity
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.metrics import Metrics

PG_ENV = "XROAD_VTJ_TEST_PG_DSN"
APP_PASSWORD = "app-test-password"


@dataclass(frozen=True)
class PgDatabase:
    name: str
    admin_dsn: str  # superuser, this database
    app_dsn: str  # the application role: SELECT and INSERT only
    app_role: str


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set, and PostgreSQL tests never skip in CI")
        pytest.skip(f"{PG_ENV} is not set")
    return dsn


@pytest.fixture(scope="session")
def pg_session_db(pg_admin_dsn: str) -> Iterator[PgDatabase]:
    """A migrated database and an application role for the whole session (reset before each test)."""
    suffix = secrets.token_hex(4)
    name, role = f"xvtj_{suffix}", f"xvtj_app_{suffix}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), APP_PASSWORD))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        admin = make_conninfo(pg_admin_dsn, dbname=name)
        migrate(admin, app_role=role)
        yield PgDatabase(
            name=name,
            admin_dsn=admin,
            app_dsn=make_conninfo(pg_admin_dsn, dbname=name, user=role, password=APP_PASSWORD),
            app_role=role,
        )
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def pg_db(pg_session_db: PgDatabase) -> PgDatabase:
    """The session database, emptied (as a superuser, triggers off) and re-migrated for this test."""
    with psycopg.connect(pg_session_db.admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM xroad_vtj_audit.record")
        conn.execute("DELETE FROM xroad_vtj_audit.checkpoint")
        for (part,) in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'xroad_vtj_audit.record'::regclass"
        ).fetchall():
            conn.execute(sql.SQL("DROP TABLE xroad_vtj_audit.{}").format(sql.Identifier(part)))
    migrate(pg_session_db.admin_dsn, app_role=pg_session_db.app_role)
    return pg_session_db


def keys_in(directory: Path) -> dict[str, str]:
    """Key files an operator provides (PostgreSQL requires them)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data.key"
    if not data.exists():
        data.write_text(new_key_text())
        create_signing_identity(directory / "signing.key", directory / "signing.crt")
    return {
        "data_key_file": str(data),
        "signing_key_file": str(directory / "signing.key"),
        "signing_cert_file": str(directory / "signing.crt"),
        "checkpoint_dir": str(directory / "checkpoints"),
    }


@pytest.fixture
def sqlite_raw(tmp_path: Path) -> dict[str, Any]:
    return {"backend": "sqlite", "sqlite_path": str(tmp_path / "audit.sqlite3")}


@pytest.fixture
def sqlite_config(sqlite_raw: dict[str, Any], tmp_path: Path) -> AuditConfig:
    return parse_audit_config(sqlite_raw, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def raw_config(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "sqlite":
        return {"backend": "sqlite", "sqlite_path": str(tmp_path / "audit.sqlite3")}
    db: PgDatabase = request.getfixturevalue("pg_db")
    return {"backend": "postgresql", "dsn": db.app_dsn, **keys_in(tmp_path / "keys")}


@pytest.fixture
def config(raw_config: dict[str, Any], tmp_path: Path) -> AuditConfig:
    return parse_audit_config(raw_config, tmp_path)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def store(config: AuditConfig, metrics: Metrics) -> AsyncIterator[AuditStore]:
    s = open_store(config, instance="test-1", metrics=metrics)
    await s.open(checkpoints=False)
    yield s
    await s.close()


@pytest.fixture
async def sqlite_store(sqlite_config: AuditConfig, metrics: Metrics) -> AsyncIterator[AuditStore]:
    s = open_store(sqlite_config, instance="test-1", metrics=metrics)
    await s.open(checkpoints=False)
    yield s
    await s.close()
