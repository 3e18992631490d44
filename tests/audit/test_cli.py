"""``xroad-vtj audit …`` commands."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.audit.conftest import PgDatabase, keys_in
from tests.audit.helpers import HETUS, intent
from xroad_vtj.audit.cli import main
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.store import open_store


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
    assert "audit schema at version 2 (sqlite" in capsys.readouterr().out
    assert main(["audit", "retention", "--config", str(config_file)]) == 0
    assert capsys.readouterr().out.startswith("retention: nothing older than")


@pytest.mark.postgres
def test_migrate_on_postgresql_grants_the_application_role(
    pg_db: PgDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = keys_in(tmp_path / "keys")
    cfg = tmp_path / "pg.yaml"
    cfg.write_text(yaml.safe_dump({"audit": {"backend": "postgresql", "dsn": pg_db.app_dsn, **keys}}))
    argv = ["--admin-dsn", pg_db.admin_dsn, "--app-role", pg_db.app_role]
    assert main(["audit", "migrate", "--config", str(cfg), *argv]) == 0
    assert "granted SELECT and INSERT" in capsys.readouterr().out
    assert main(["audit", "verify", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.startswith("audit log intact: 0 records")
