"""``xroad-vtj audit …`` commands."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
import structlog
import yaml
from psycopg.conninfo import make_conninfo

from tests.audit.conftest import APP_PASSWORD, PgDatabase, keys_in
from tests.audit.helpers import HETUS, intent
from tests.conftest import base_config
from xroad_vtj.audit import sqlite_store
from xroad_vtj.audit.cli import main
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.store import open_store
from xroad_vtj.cli import main as service_main


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("audit:\n  backend: sqlite\n  sqlite_path: audit.sqlite3\n")
    return path


def _fill(tmp_path: Path, n: int = 3) -> None:
    asyncio.run(_fill_async(tmp_path, n))


async def _fill_async(tmp_path: Path, n: int) -> None:
    store = open_store(AuditConfig(sqlite_path=tmp_path / "audit.sqlite3"), instance="t")
    await store.open()
    for i in range(n):
        await store.append_intent(intent(i, subject=HETUS[i % 2]))
    await store.close()


def test_search_prints_one_json_line_per_query(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(tmp_path)
    capsys.readouterr()  # the key-creation warning of the first start
    assert main(["audit", "search", "--config", str(config_file), "--subject", HETUS[0]]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["xroad_message_id"] for r in lines] == ["msg-0", "msg-2"]
    assert {r["subject"] for r in lines} == {HETUS[0]}


def test_verify_prints_one_line_and_exits_zero_when_intact(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(tmp_path)
    capsys.readouterr()  # the key-creation warning of the first start
    assert main(["audit", "verify", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("audit log intact: 3 records")
    assert out.count("\n") == 1


def test_verify_names_an_edited_record_and_exits_non_zero(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(tmp_path)
    capsys.readouterr()  # the key-creation warning of the first start
    conn = sqlite3.connect(tmp_path / "audit.sqlite3", isolation_level=None)
    conn.execute("DROP TRIGGER audit_record_no_update")
    conn.execute("UPDATE audit_record SET body = replace(body, 'case-1', 'case-X') WHERE seq = 2")
    conn.close()
    assert main(["audit", "verify", "--config", str(config_file)]) == 1
    err = capsys.readouterr().err
    assert "record 2 was altered" in err
    assert err.count("\n") == 1


def test_a_bad_configuration_is_one_line_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("audit:\n  retention_years: 2\n")
    assert main(["audit", "search", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "audit.retention_years" in err
    assert err.count("\n") == 1


def test_checkpoint_export_and_prove_write_signed_files(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(tmp_path)
    capsys.readouterr()
    assert main(["audit", "checkpoint", "--config", str(config_file)]) == 0
    assert capsys.readouterr().out.startswith("checkpoint written: record 3")
    out = tmp_path / "proof.xml"
    assert (
        main(["audit", "prove", "--config", str(config_file), "--xroad-id", "msg-1", "--out", str(out)]) == 0
    )
    assert b"<AuditProof" in out.read_bytes()
    export = tmp_path / "export.xml"
    argv = ["--from", "2000-01-01", "--to", "2100-01-01", "--out", str(export)]
    assert main(["audit", "export", "--config", str(config_file), *argv]) == 0
    assert export.read_bytes().count(b"<Query ") == 3
    assert (
        main(["audit", "prove", "--config", str(config_file), "--xroad-id", "nope", "--out", str(out)]) == 2
    )
    assert "no audited query" in capsys.readouterr().err


def test_migrate_and_retention_on_sqlite(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "migrate", "--config", str(config_file)]) == 0
    assert f"audit schema at version {sqlite_store.SCHEMA_VERSION} (sqlite" in capsys.readouterr().out
    assert main(["audit", "retention", "--config", str(config_file)]) == 0
    assert capsys.readouterr().out.startswith("retention: nothing older than")


@pytest.mark.postgres
def test_migrate_on_postgresql_grants_the_application_role(
    pg_db: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = keys_in(tmp_path / "keys")
    cfg = tmp_path / "pg.yaml"
    cfg.write_text(yaml.safe_dump({"audit": {"backend": "postgresql", "dsn": pg_db.app_dsn, **keys}}))
    (tmp_path / "admin.dsn").write_text(pg_db.admin_dsn + "\n")
    argv = ["--admin-dsn-file", str(tmp_path / "admin.dsn"), "--app-role", pg_db.app_role]
    assert main(["audit", "migrate", "--config", str(cfg), *argv]) == 0
    assert "granted SELECT and INSERT" in capsys.readouterr().out
    assert main(["audit", "verify", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.startswith("audit log intact: 0 records")


def test_an_admin_dsn_with_a_password_on_the_command_line_is_refused(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("migrate", "retention"):
        argv = [
            "audit",
            command,
            "--config",
            str(config_file),
            "--admin-dsn",
            "postgresql://o:s3cret-pw@db/a",
        ]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "s3cret-pw" not in err
        assert "--admin-dsn must not carry a password (every user sees it in ps): use --admin-dsn-file" in err


def test_a_bad_date_is_one_line_on_stderr(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "audit",
                "export",
                "--config",
                str(config_file),
                "--from",
                "yesterday",
                "--to",
                "2026-01-01",
                "--out",
                "x",
            ]
        )
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == "xroad-vtj audit export: argument --from: expected an ISO 8601 date or date-time\n"


@pytest.mark.postgres
def test_retention_as_the_application_role_says_it_needs_the_schema_owner(
    pg_db: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "pg.yaml"
    cfg.write_text(
        yaml.safe_dump({"audit": {"backend": "postgresql", "dsn": pg_db.app_dsn, **keys_in(tmp_path)}})
    )
    with psycopg.connect(pg_db.admin_dsn, autocommit=True) as conn:  # something old enough to remove
        conn.execute("SET session_replication_role = replica")
        conn.execute("SELECT xroad_vtj_audit.create_partition(201501)")  # the owner may create any month
        conn.execute(
            "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash) VALUES (1, 201501, %s, %s)",
            ('{"audit_id":"a","kind":"event"}', bytes(32)),
        )
    assert main(["audit", "retention", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        "retention: the role may not remove audit periods; the schema owner's DSN is needed: pass --admin-dsn-file"
        in err
    )
    assert APP_PASSWORD not in err


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["verify", "serve"])
def test_a_wrong_database_password_is_named_as_such(
    pg_db: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    wrong = make_conninfo(pg_db.app_dsn, password="wrong-password-0815")
    cfg = tmp_path / "pg.yaml"
    audit = {"backend": "postgresql", "dsn": wrong, **keys_in(tmp_path)}
    if command == "verify":
        cfg.write_text(yaml.safe_dump({"audit": audit}))
        assert main(["audit", "verify", "--config", str(cfg)]) == 2
    else:
        cfg.write_text(yaml.safe_dump(base_config(tmp_path, "http://127.0.0.1:1/", audit=audit)))
        try:
            assert service_main(["serve", "--config", str(cfg)]) == 2
        finally:
            structlog.reset_defaults()  # serve bound the log to this test's captured stderr
    err = capsys.readouterr().err
    assert "audit store: authentication failed: check the user and password in audit.dsn" in err
    assert "wrong-password-0815" not in err


@pytest.mark.parametrize("written", ["91-403-1-5", "091-403-0001-0005", "09140300010005"])
def test_search_finds_a_property_by_any_written_form(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str
) -> None:
    async def fill() -> None:
        store = open_store(AuditConfig(sqlite_path=tmp_path / "audit.sqlite3"), instance="t")
        await store.open()
        await store.append_intent(intent(0, subject="09140300010005"))
        await store.close()

    asyncio.run(fill())
    capsys.readouterr()
    assert main(["audit", "search", "--config", str(config_file), "--subject", written]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["xroad_message_id"] for r in lines] == ["msg-0"]
