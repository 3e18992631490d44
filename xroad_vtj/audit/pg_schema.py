"""PostgreSQL schema: migrations, the application role's grants, monthly partitions.

``xroad-vtj audit migrate`` runs :func:`migrate` with an owner (admin) connection. The service itself never
changes the schema: at start it only checks the version and asks the owner-rights function
``ensure_partition`` for the partitions of this month and the next (the only ones it may create).
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

import psycopg
from psycopg import sql

from xroad_vtj.audit.chain import period_of, utcnow
from xroad_vtj.errors import AuditUnavailable

SCHEMA = "xroad_vtj_audit"
SCHEMA_VERSION = 3
MIGRATIONS = (
    (1, "pg_0001_initial.sql"),
    (2, "pg_0002_quotas_and_lock.sql"),
    (3, "pg_0003_partial_indexes.sql"),
)

# The writers' lock: appends from every process and replica queue here, so seq stays gap-free and the chain
# has one order. A table lock, which only roles granted UPDATE on that table can take (an advisory lock could be
# taken by any role that can connect, and so stop every audit write).
WRITE_LOCK_SQL = "LOCK TABLE xroad_vtj_audit.write_lock IN EXCLUSIVE MODE"
MIGRATE_LOCK = 0x7876746A61756431  # advisory: only the owner migrates, and a blocked migration harms nothing

APP_GRANTS = (
    "GRANT USAGE ON SCHEMA xroad_vtj_audit TO {role}",
    "GRANT SELECT, INSERT ON xroad_vtj_audit.record, xroad_vtj_audit.checkpoint TO {role}",
    "GRANT SELECT ON xroad_vtj_audit.schema_version TO {role}",
    # UPDATE only so that the role may lock the table (a trigger refuses any actual change)
    "GRANT SELECT, UPDATE ON xroad_vtj_audit.write_lock TO {role}",
    "GRANT EXECUTE ON FUNCTION xroad_vtj_audit.ensure_partition(integer) TO {role}",
)


def next_period(period: int) -> int:
    return period + 89 if period % 100 == 12 else period + 1


def periods_from(start: int, count: int) -> list[int]:
    out = [start]
    while len(out) < count:
        out.append(next_period(out[-1]))
    return out


def current_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    exists = conn.execute("SELECT to_regclass('xroad_vtj_audit.schema_version')").fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM xroad_vtj_audit.schema_version").fetchone()
    return int(str(row[0])) if row else 0


def _migration_text(name: str) -> str:
    return resources.files("xroad_vtj.audit.migrations").joinpath(name).read_text(encoding="utf-8")


def migrate(
    admin_dsn: str, *, app_role: str | None = None, months_ahead: int = 3, now: datetime | None = None
) -> int:
    """Apply missing migrations, create partitions up to ``months_ahead``, grant ``app_role``; the version."""
    with psycopg.connect(admin_dsn, autocommit=False) as conn:
        encoding = conn.execute("SHOW server_encoding").fetchone()
        if encoding is None or encoding[0] != "UTF8":
            # bodies are hashed as UTF-8 bytes; another server encoding could not store every text as is
            raise AuditUnavailable("the audit database must use the UTF8 encoding")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise AuditUnavailable("the audit schema is newer than this version of xroad-vtj")
        if version == 0:
            conn.execute("CREATE SCHEMA IF NOT EXISTS xroad_vtj_audit")
            conn.execute(
                "CREATE TABLE xroad_vtj_audit.schema_version"
                " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        for number, name in MIGRATIONS:
            if number > version:
                conn.execute(
                    _migration_text(name).encode()
                )  # several statements, no parameters: simple query protocol
                conn.execute("INSERT INTO xroad_vtj_audit.schema_version (version) VALUES (%s)", (number,))
        for period in periods_from(period_of(now or utcnow()), months_ahead + 1):
            conn.execute("SELECT xroad_vtj_audit.create_partition(%s)", (period,))
        if app_role is not None:
            for grant in APP_GRANTS:
                conn.execute(sql.SQL(grant).format(role=sql.Identifier(app_role)))
        conn.commit()
    return SCHEMA_VERSION
