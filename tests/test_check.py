"""`xroad-vtj check` against the simulator: success, wrong TLS, disallowed service, unreachable server."""

from __future__ import annotations

import io
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trustme
import yaml
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import Sim, base_config
from xroad_vtj.audit.keys import new_key_text
from xroad_vtj.audit.pg_schema import migrate
from xroad_vtj.audit.signing import create_signing_identity
from xroad_vtj.check import run_check


def write(tmp_path: Path, raw: dict[str, Any]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


async def check(path: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_check(path, out)
    return code, out.getvalue()


async def test_check_passes_when_the_vtj_service_is_allowed(simulator: Sim, tmp_path: Path) -> None:
    code, report = await check(write(tmp_path, base_config(tmp_path, simulator.url)))
    assert code == 0, report
    assert "allowedMethods" in report
    assert report.strip().endswith("all checks passed")


async def test_check_fails_when_the_service_is_not_allowed(simulator: Sim, tmp_path: Path) -> None:
    simulator.state.allowed_services = ()
    code, report = await check(write(tmp_path, base_config(tmp_path, simulator.url)))
    assert code == 1
    assert "may not call" in report and "what to do" in report


async def test_check_fails_when_the_security_server_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, report = await check(write(tmp_path, base_config(tmp_path, f"http://127.0.0.1:{port}/")))
    assert code == 1
    assert "cannot connect" in report


async def test_check_fails_on_an_untrusted_security_server_certificate(
    tmp_path: Path, ca: trustme.CA
) -> None:
    from xroad_vtj.simulator.app import create_simulator_app, simulator_ssl_context
    from xroad_vtj.simulator.run import RunningSimulator

    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "ss.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "ss.key"))
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "wrong-ca.pem"))
    running = RunningSimulator(create_simulator_app())
    await running.start(
        "127.0.0.1", 0, simulator_ssl_context(str(tmp_path / "ss.pem"), str(tmp_path / "ss.key"), None)
    )
    try:
        url = f"https://127.0.0.1:{running.port}/"
        raw = base_config(
            tmp_path,
            url,
            xroad={
                "security_server_url": url,
                "client": "FI-TEST/MUN/0101263-6/caseapp",
                "tls": {"ca_file": str(tmp_path / "wrong-ca.pem")},
            },
        )
        code, report = await check(write(tmp_path, raw))
    finally:
        await running.stop()
    assert code == 1
    assert "FAIL" in report


async def test_check_reports_an_invalid_configuration_by_key(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "http://127.0.0.1:1/", server={"bogus": 1})
    code, report = await check(write(tmp_path, raw))
    assert code == 2
    assert "server.bogus" in report


PG_DSN = os.environ.get("XROAD_VTJ_TEST_PG_DSN")
needs_pg = pytest.mark.skipif(
    not PG_DSN and not os.environ.get("CI"), reason="XROAD_VTJ_TEST_PG_DSN is not set"
)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh, empty database (no audit schema) on the test server; its superuser DSN."""
    assert PG_DSN, "XROAD_VTJ_TEST_PG_DSN is required in CI"
    name = f"xvtj_check_{secrets.token_hex(4)}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(PG_DSN, dbname=name)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _pg_config(tmp_path: Path, url: str, dsn: str) -> dict[str, Any]:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    if not (keys / "data.key").exists():
        (keys / "data.key").write_text(new_key_text())
        create_signing_identity(keys / "signing.key", keys / "signing.crt")
    audit = {
        "backend": "postgresql",
        "dsn_file": str(tmp_path / "dsn"),
        "data_key_file": str(keys / "data.key"),
        "signing_key_file": str(keys / "signing.key"),
        "signing_cert_file": str(keys / "signing.crt"),
        "checkpoint_dir": str(tmp_path / "checkpoints"),
    }
    (tmp_path / "dsn").write_text(dsn)
    return base_config(tmp_path, url, audit=audit)


@needs_pg
@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"password": "wrong-password-0815"}, "audit store: authentication failed"),
        ({"dbname": "no_such_database_0815"}, "audit store: the database named in audit.dsn does not exist"),
        (
            {"host": "no-such-host.invalid"},
            "audit store: the database host name in audit.dsn does not resolve",
        ),
        ({"port": "1"}, "audit store: nothing accepts connections at the database host and port"),
        ({}, "audit store: the audit schema is not migrated: run `xroad-vtj audit migrate`"),
    ],
    ids=["password", "database", "host", "port", "schema"],
)
async def test_check_connects_to_the_audit_store_and_names_why_it_cannot(
    simulator: Sim, tmp_path: Path, pg_database: str, change: dict[str, str], cause: str
) -> None:
    dsn = make_conninfo(pg_database, **change)
    code, report = await check(write(tmp_path, _pg_config(tmp_path, simulator.url, dsn)))
    assert code == 1, report
    assert f"FAIL {cause}" in report
    assert "wrong-password-0815" not in report and "all checks passed" not in report


@needs_pg
async def test_check_passes_with_a_migrated_audit_store(
    simulator: Sim, tmp_path: Path, pg_database: str
) -> None:
    migrate(pg_database)
    code, report = await check(write(tmp_path, _pg_config(tmp_path, simulator.url, pg_database)))
    assert code == 0, report
    assert "ok   audit store: PostgreSQL reachable, schema migrated" in report


async def test_check_reads_an_existing_sqlite_audit_store(simulator: Sim, tmp_path: Path) -> None:
    (tmp_path / "audit.sqlite3").write_bytes(b"this is not a database" * 100)
    code, report = await check(write(tmp_path, base_config(tmp_path, simulator.url)))
    assert code == 1
    assert "FAIL audit store: " in report and "cannot be read as an SQLite database" in report


async def test_check_warns_about_plain_http_and_a_signing_key_beside_the_database(
    simulator: Sim, tmp_path: Path
) -> None:
    code, report = await check(write(tmp_path, base_config(tmp_path, simulator.url)))
    assert code == 0, report
    assert "warn xroad.security_server_url uses plain http://" in report
    assert "warn audit.signing_key_file" in report and "same directory as the SQLite database" in report
