"""Why the audit database cannot be used, in words an operator can act on.

``check`` and ``serve`` connect once directly (a pool only says "timed out" after its timeout, whatever the
cause) and name the cause: authentication, the host, the database missing, the schema not migrated, the role's
rights. libpq reports connection failures without an SQLSTATE, so its (English) message is classified; the
message itself is never repeated, as it may name users or hosts in ways we do not control. Never a password.
"""

from __future__ import annotations

import psycopg

from xroad_vtj.audit.pg_schema import SCHEMA_VERSION

CONNECT_TIMEOUT_SECONDS = 5

_CAUSES = (
    ("password authentication failed", "authentication failed: check the user and password in audit.dsn"),
    ("authentication failed", "authentication failed: check the user and password in audit.dsn"),
    ("no pg_hba.conf entry", "the database server refuses this client (pg_hba.conf): ask its administrator"),
    ("does not exist", "the database named in audit.dsn does not exist"),
    ("failed to resolve host", "the database host name in audit.dsn does not resolve"),
    ("could not translate host name", "the database host name in audit.dsn does not resolve"),
    ("connection refused", "nothing accepts connections at the database host and port in audit.dsn"),
    ("timeout", "the database host did not answer in time (network, firewall or host down)"),
    ("ssl", "TLS to the database failed: check sslmode and the certificates in audit.dsn"),
    ("too many connections", "the database server has no free connections"),
)


def explain(error: BaseException) -> str:
    """One line naming the cause of a failed connection or statement."""
    state = getattr(error, "sqlstate", None)
    if state in ("28P01", "28000"):
        return "authentication failed: check the user and password in audit.dsn"
    if state == "3D000":
        return "the database named in audit.dsn does not exist"
    if state in ("3F000", "42P01"):
        return "the audit schema is not migrated: run `xroad-vtj audit migrate` as the schema owner"
    if state == "42501":
        return "the database role lacks a right it needs (see the roles in docs/audit.md)"
    text = str(error).lower()
    if 'role "' in text and "does not exist" in text:
        return "the user in audit.dsn does not exist on the database server"
    for marker, cause in _CAUSES:
        if marker in text:
            return cause
    return f"cannot use the audit database ({type(error).__name__}{': ' + state if state else ''})"


def diagnose(dsn: str) -> str | None:
    """Connect as the service would and check the schema and rights; None when the store is usable."""
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True) as conn:
            row = conn.execute("SELECT to_regclass('xroad_vtj_audit.schema_version')").fetchone()
            if row is None or row[0] is None:
                return "the audit schema is not migrated: run `xroad-vtj audit migrate` as the schema owner"
            found = conn.execute("SELECT max(version) FROM xroad_vtj_audit.schema_version").fetchone()
            version = found[0] if found else None
            if version != SCHEMA_VERSION:
                return (
                    f"the audit schema is at version {version or 'none'}, this service needs {SCHEMA_VERSION}:"
                    " run `xroad-vtj audit migrate`"
                )
            rights = conn.execute(
                "SELECT has_table_privilege('xroad_vtj_audit.record', 'INSERT'),"
                " has_table_privilege('xroad_vtj_audit.record', 'SELECT')"
            ).fetchone()
            if rights is None or not all(rights):
                return (
                    "the role in audit.dsn may not read and append the audit log:"
                    " run `xroad-vtj audit migrate --app-role ROLE` as the schema owner"
                )
    except psycopg.Error as e:
        return explain(e)
    return None
