"""What an attacker with write access to the database does, per backend (triggers are no obstacle to them)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any, Protocol

import psycopg

from xroad_vtj.audit.chain import GENESIS, record_hash


class Tamper(Protocol):
    def rows(self) -> list[tuple[int, int, str, bytes]]: ...
    def set_body(self, seq: int, body: str) -> None: ...
    def set_hash(self, seq: int, hash_: bytes) -> None: ...
    def delete(self, first: int, last: int) -> None: ...
    def replace_all(self, rows: list[tuple[int, int, str, bytes]]) -> None: ...
    def snapshot(self) -> object: ...
    def restore(self, snap: object) -> None: ...
    def delete_checkpoints(self) -> None: ...
    def add_partition(self, period: int) -> None: ...


class SqliteTamper:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _conn(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        for trigger in ("audit_record_no_update", "audit_record_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        return conn

    def rows(self) -> list[tuple[int, int, str, bytes]]:
        with self._conn() as c:
            return [
                tuple(r) for r in c.execute("SELECT seq, period, body, hash FROM audit_record ORDER BY seq")
            ]

    def set_body(self, seq: int, body: str) -> None:
        with self._conn() as c:
            c.execute("UPDATE audit_record SET body = ? WHERE seq = ?", (body, seq))

    def set_hash(self, seq: int, hash_: bytes) -> None:
        with self._conn() as c:
            c.execute("UPDATE audit_record SET hash = ? WHERE seq = ?", (hash_, seq))

    def delete(self, first: int, last: int) -> None:
        with self._conn() as c:
            c.execute("DELETE FROM audit_record WHERE seq BETWEEN ? AND ?", (first, last))

    def replace_all(self, rows: list[tuple[int, int, str, bytes]]) -> None:
        with self._conn() as c:
            c.execute("DELETE FROM audit_record")
            c.executemany("INSERT INTO audit_record (seq, period, body, hash) VALUES (?, ?, ?, ?)", rows)

    def delete_checkpoints(self) -> None:
        with self._conn() as c:
            c.execute("DROP TRIGGER IF EXISTS audit_checkpoint_no_delete")
            c.execute("DELETE FROM audit_checkpoint")

    def add_partition(self, period: int) -> None:
        """SQLite has no partitions."""

    def snapshot(self) -> object:
        copy = self.path.with_suffix(".copy")
        src, dst = sqlite3.connect(self.path), sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.close()
        return copy

    def restore(self, snap: object) -> None:
        assert isinstance(snap, Path)
        for suffix in ("-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        shutil.copyfile(snap, self.path)


def rechain(rows: list[tuple[int, int, str, bytes]], start: int = 1) -> list[tuple[int, int, str, bytes]]:
    """Renumber from ``start`` and recompute every hash: what an attacker who knows the format does."""
    out = []
    prev = GENESIS
    for i, (_, period, body, _) in enumerate(rows):
        seq = start + i
        prev = record_hash(prev, seq, period, body.encode())
        out.append((seq, period, body, prev))
    return out


PG_RECORD = "xroad_vtj_audit.record"
PG_CHECKPOINT = "xroad_vtj_audit.checkpoint"


class PgTamper:
    """A database superuser: triggers switched off with ``session_replication_role = replica``."""

    def __init__(self, admin_dsn: str) -> None:
        self.dsn = admin_dsn

    def _conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn = psycopg.connect(self.dsn, autocommit=True)
        conn.execute("SET session_replication_role = replica")
        return conn

    def rows(self) -> list[tuple[int, int, str, bytes]]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT seq, period, body, hash FROM xroad_vtj_audit.record ORDER BY seq"
            ).fetchall()
            return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def set_body(self, seq: int, body: str) -> None:
        with self._conn() as c:
            c.execute("UPDATE xroad_vtj_audit.record SET body = %s WHERE seq = %s", (body, seq))

    def set_hash(self, seq: int, hash_: bytes) -> None:
        with self._conn() as c:
            c.execute("UPDATE xroad_vtj_audit.record SET hash = %s WHERE seq = %s", (hash_, seq))

    def delete(self, first: int, last: int) -> None:
        with self._conn() as c:
            c.execute("DELETE FROM xroad_vtj_audit.record WHERE seq BETWEEN %s AND %s", (first, last))

    def replace_all(self, rows: list[tuple[int, int, str, bytes]]) -> None:
        with self._conn() as c:
            c.execute("DELETE FROM xroad_vtj_audit.record")
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash) VALUES (%s, %s, %s, %s)",
                    rows,
                )

    def delete_checkpoints(self) -> None:
        with self._conn() as c:
            c.execute("DELETE FROM xroad_vtj_audit.checkpoint")

    def add_partition(self, period: int) -> None:
        end = period + 89 if period % 100 == 12 else period + 1
        with self._conn() as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS xroad_vtj_audit.record_{period} PARTITION OF xroad_vtj_audit.record"
                f" FOR VALUES FROM ({period}) TO ({end})"
            )

    def snapshot(self) -> object:
        with self._conn() as c:
            checkpoints = c.execute(
                "SELECT seq, created_at, document FROM xroad_vtj_audit.checkpoint"
            ).fetchall()
        return self.rows(), checkpoints

    def restore(self, snap: object) -> None:
        assert isinstance(snap, tuple)
        rows: list[tuple[int, int, str, bytes]] = snap[0]
        checkpoints: list[tuple[Any, ...]] = snap[1]
        self.replace_all(rows)
        with self._conn() as c:
            c.execute("DELETE FROM xroad_vtj_audit.checkpoint")
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO xroad_vtj_audit.checkpoint (seq, created_at, document) VALUES (%s, %s, %s)",
                    checkpoints,
                )
