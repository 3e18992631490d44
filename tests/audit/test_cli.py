"""``xroad-vtj audit …`` commands."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

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
