"""The two audit backends the crash and outage tests run against, each with a raw view of its records.

PostgreSQL: ``XROAD_VTJ_TEST_PG_DSN`` is an admin DSN (may create databases); each test gets its own
database, dropped afterwards. Without the variable the PostgreSQL cases skip, except in CI (``CI`` set),
where they fail. A throwaway cluster (:class:`ThrowawayPostgres`) is started for the test that stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from xroad_vtj.audit.keys import new_key_text, write_private
from xroad_vtj.audit.signing import create_signing_identity

PG_DSN_ENV = "XROAD_VTJ_TEST_PG_DSN"


def _pg_bin() -> Path:
    """PostgreSQL's server programs (Debian layout): version 15 as in production, else the newest installed."""
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "initdb").exists():
        return preferred
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: float(p.parts[-3]))
    return found[-1].parent if found else preferred


PG_BIN = _pg_bin()


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: PostgreSQL tests must run)")
    pytest.skip(reason)


@dataclass(frozen=True)
class RawRecord:
    seq: int
    kind: str
    audit_id: str
    xroad_message_id: str | None
    body: dict[str, Any]


@dataclass(frozen=True)
class AuditBackend:
    name: str
    section: dict[str, Any]  # the ``audit:`` configuration section
    dsn: str | None = None

    def raw_records(self) -> list[RawRecord]:
        """Every stored record, parsed: a half-written record fails here."""
        if self.name == "sqlite":
            conn = sqlite3.connect(f"file:{self.section['sqlite_path']}?mode=ro", uri=True)
            try:
                rows = conn.execute("SELECT seq, body FROM audit_record ORDER BY seq").fetchall()
            finally:
                conn.close()
        else:
            import psycopg

            assert self.dsn is not None
            with psycopg.connect(self.dsn) as pg:
                rows = pg.execute("SELECT seq, body FROM xroad_vtj_audit.record ORDER BY seq").fetchall()
        out = []
        for seq, text in rows:
            body = json.loads(text)
            out.append(
                RawRecord(int(seq), body["kind"], body["audit_id"], body.get("xroad_message_id"), body)
            )
        return out


def sqlite_backend(tmp_path: Path) -> AuditBackend:
    return AuditBackend("sqlite", {"backend": "sqlite", "sqlite_path": str(tmp_path / "audit.sqlite3")})


def pg_section(dsn: str, keys: Path) -> dict[str, Any]:
    """The ``audit:`` section for PostgreSQL, with freshly generated key files and a checkpoint folder."""
    keys.mkdir(parents=True, exist_ok=True)
    write_private(keys / "data.key", new_key_text().encode())
    create_signing_identity(keys / "signing.key", keys / "signing.crt")
    (keys / "checkpoints").mkdir(mode=0o700)
    return {
        "backend": "postgresql",
        "dsn": dsn,
        "data_key_file": str(keys / "data.key"),
        "signing_key_file": str(keys / "signing.key"),
        "signing_cert_file": str(keys / "signing.crt"),
        "checkpoint_dir": str(keys / "checkpoints"),
    }


def with_database(dsn: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["dbname"] = name
    return make_conninfo("", **params)


@contextlib.contextmanager
def own_database(admin_dsn: str) -> Iterator[str]:
    """A new, empty database on the admin DSN's server; dropped afterwards. Yields its DSN."""
    import psycopg

    name = f"xroad_vtj_rel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_dsn, name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin_dsn() -> str:
    dsn = os.environ.get(PG_DSN_ENV)
    if not dsn:
        skip_or_fail(f"{PG_DSN_ENV} is not set")
        raise AssertionError("unreachable")
    return dsn


def migrate_or_skip(code: int, err: str) -> None:
    """``audit migrate`` must succeed; a build without the PostgreSQL store skips (fails in CI)."""
    if code != 0 and "not available in this build" in err:
        skip_or_fail("the PostgreSQL audit store is not in this build yet")
    assert code == 0, err


class ThrowawayPostgres:
    """A PostgreSQL 15 cluster of our own (initdb in a temporary folder), so that it can be stopped and
    started without disturbing anyone else's server."""

    def __init__(self, port: int) -> None:
        if not (PG_BIN / "initdb").exists():
            skip_or_fail(f"{PG_BIN}/initdb is not installed")
        self.port = port
        self.running = False
        self.dir = Path(tempfile.mkdtemp(prefix="xroad-vtj-pg-"))
        self.data = self.dir / "data"
        # PostgreSQL refuses to run as root: as root, hand the folder to the postgres OS user and run as it.
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self._prefix = ["runuser", "-u", "postgres", "--"]
        self.dir.chmod(0o700)
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "xroad", "--auth=trust", "-E", "UTF8"
        )

    @property
    def dsn(self) -> str:
        return f"postgresql://xroad@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(
            [*self._prefix, *argv],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.dir,
            timeout=60,
        )

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            options,
            "start",
        )
        self.running = True

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.running = False

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
