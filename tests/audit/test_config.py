"""The audit section of the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xroad_vtj.audit.config import parse_audit_config
from xroad_vtj.errors import ConfigError

PG_COMPLETE = {
    "backend": "postgresql",
    "dsn": "postgresql://app@db/audit",
    "data_key_file": "keys/data.key",
    "signing_key_file": "keys/signing.key",
    "signing_cert_file": "keys/signing.crt",
    "checkpoint_dir": "checkpoints",
}


def test_defaults_are_the_embedded_sqlite_store_next_to_the_config(tmp_path: Path) -> None:
    cfg = parse_audit_config({}, tmp_path)
    assert cfg.backend == "sqlite"
    assert cfg.sqlite_path == tmp_path / "var" / "audit.sqlite3"
    assert cfg.retention_years == 5
    assert cfg.checkpoint_interval_seconds == 300
    filled = cfg.with_defaults()
    assert filled.data_key_file == tmp_path / "var" / "audit-data.key"
    assert filled.checkpoint_dir == tmp_path / "var" / "audit-checkpoints"


def test_relative_paths_are_relative_to_the_config_directory(tmp_path: Path) -> None:
    cfg = parse_audit_config(
        {**PG_COMPLETE, "previous_data_key_files": ["old.key", "/abs/older.key"]}, tmp_path
    )
    assert cfg.data_key_file == tmp_path / "keys" / "data.key"
    assert cfg.previous_data_key_files == (tmp_path / "old.key", Path("/abs/older.key"))
    assert cfg.checkpoint_dir == tmp_path / "checkpoints"


def test_dsn_file_is_read_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "dsn").write_text("postgresql://app:secret@db/audit\n")
    raw = {k: v for k, v in PG_COMPLETE.items() if k != "dsn"}
    cfg = parse_audit_config({**raw, "dsn_file": "dsn"}, tmp_path)
    assert cfg.dsn == "postgresql://app:secret@db/audit"
    assert "secret" not in repr(cfg)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"colour": "blue"}, "audit.colour"),
        ({"backend": "mysql"}, "audit.backend"),
        ({"retention_years": 4}, "audit.retention_years"),
        ({"retention_years": "5"}, "audit.retention_years"),
        ({"checkpoint_interval_seconds": 0}, "audit.checkpoint_interval_seconds"),
        ({"checkpoint_interval_seconds": True}, "audit.checkpoint_interval_seconds"),
        ({"sqlite_path": ""}, "audit.sqlite_path"),
        ({"previous_data_key_files": "one.key"}, "audit.previous_data_key_files"),
        ({"dsn_file": "missing"}, "audit.dsn_file"),
        ({**PG_COMPLETE, "dsn_file": "x"}, "audit.dsn_file"),
        ({**PG_COMPLETE, "dsn": None}, "audit.dsn"),
        ({**PG_COMPLETE, "data_key_file": None}, "audit.data_key_file"),
        ({**PG_COMPLETE, "signing_key_file": None}, "audit.signing_key_file"),
        ({**PG_COMPLETE, "signing_cert_file": None}, "audit.signing_cert_file"),
        ({**PG_COMPLETE, "checkpoint_dir": None}, "audit.checkpoint_dir"),
    ],
)
def test_invalid_settings_are_refused_naming_the_key(raw: dict[str, Any], key: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_audit_config(raw, tmp_path)
