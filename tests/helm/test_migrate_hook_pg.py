"""The migrate hook's own command, config and environment, run for real against PostgreSQL."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.helm.chart import FULLNAME, SECRETS_DIR, render, with_minimal

PG_ENV = "XROAD_VTJ_TEST_PG_DSN"

pytestmark = pytest.mark.postgres


@pytest.fixture
def fresh_database() -> Iterator[tuple[str, str]]:
    """An empty database and an application role; yields (the owner's DSN, the role)."""
    dsn = os.environ.get(PG_ENV)
    if not dsn:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set, and PostgreSQL tests never skip in CI")
        pytest.skip(f"{PG_ENV} is not set")
    suffix = secrets.token_hex(4)
    name, role = f"xvtj_hook_{suffix}", f"xvtj_hook_app_{suffix}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(dsn, dbname=name), role
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_hook_job_migrates_the_schema_and_grants_the_service_role(
    fresh_database: tuple[str, str], tmp_path: Path
) -> None:
    admin_dsn, role = fresh_database
    values = with_minimal(
        {
            "config": {"audit": {"backend": "postgresql"}},
            "secrets": {
                "database": {"existingSecret": "db"},
                "databaseAdmin": {"existingSecret": "db-admin"},
            },
            "persistence": {"enabled": False},
            "migrations": {"appRole": role},
        }
    )
    rendered = render(values)
    job = rendered.one("Job", f"{FULLNAME}-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    config_text = rendered.one("ConfigMap", f"{FULLNAME}-migrate")["data"]["config.yaml"]
    # The pod's mounts, moved under tmp_path: the admin secret's file and the hook's config.
    (tmp_path / "db-admin").mkdir()
    (tmp_path / "db-admin" / "dsn").write_text(admin_dsn)
    config = tmp_path / "config.yaml"
    config.write_text(config_text.replace(f"{SECRETS_DIR}/", f"{tmp_path}/"))
    args = [str(config) if a == "/etc/xroad-vtj/config/config.yaml" else a for a in container["args"]]
    env = {**os.environ, "XROAD_VTJ_AUDIT_ADMIN_DSN": admin_dsn}
    done = subprocess.run(
        [sys.executable, "-m", "xroad_vtj", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "audit schema at version" in done.stdout and role in done.stdout
    with psycopg.connect(admin_dsn) as conn:
        granted = conn.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = %s AND table_schema = 'xroad_vtj_audit' AND table_name = 'record'",
            (role,),
        ).fetchall()
    assert {p for (p,) in granted} >= {"SELECT", "INSERT"}
    # Run again (an upgrade with nothing new): idempotent.
    again = subprocess.run(
        [sys.executable, "-m", "xroad_vtj", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert yaml.safe_load(config_text)["audit"]["backend"] == "postgresql"
