"""Issue 11 §8, attacked with database credentials: a role with no grants cannot stop audit writes, and the
application role may create only the partitions of the current and the next month."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.audit.conftest import PgDatabase
from tests.audit.helpers import intent
from xroad_vtj.audit.chain import period_of
from xroad_vtj.audit.pg_schema import next_period
from xroad_vtj.audit.store import AuditStore

pytestmark = pytest.mark.postgres

OLD_ADVISORY_WRITE_LOCK = 0x7876746A61756430  # the key the writer used before schema version 2


@pytest.fixture
def stranger_dsn(pg_db: PgDatabase, pg_admin_dsn: str) -> Iterator[str]:
    """A role that may log in to the database (PUBLIC has CONNECT by default) and has no grants at all."""
    role, password = f"xvtj_stranger_{secrets.token_hex(4)}", secrets.token_hex(12)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), password))
    try:
        yield make_conninfo(pg_admin_dsn, dbname=pg_db.name, user=role, password=password)
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_role_without_grants_cannot_take_the_writers_lock(
    store: AuditStore, stranger_dsn: str
) -> None:
    with psycopg.connect(stranger_dsn) as conn:
        # the advisory lock the writer used to take: anyone can hold it, and it no longer stops anything
        conn.execute("SELECT pg_advisory_lock(%s)", (OLD_ADVISORY_WRITE_LOCK,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("LOCK TABLE xroad_vtj_audit.write_lock IN EXCLUSIVE MODE")
        conn.rollback()
        conn.execute("SELECT pg_advisory_lock(%s)", (OLD_ADVISORY_WRITE_LOCK,))
        async with asyncio.timeout(5):
            await asyncio.gather(*[store.append_intent(intent(i)) for i in range(5)])
    assert len(await store.search()) == 5


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_the_application_role_may_create_only_this_and_next_months_partitions(
    store: AuditStore, pg_db: PgDatabase
) -> None:
    now = period_of(datetime.now(UTC))
    with psycopg.connect(pg_db.app_dsn, autocommit=True) as conn:
        for period in (now, next_period(now)):
            conn.execute("SELECT xroad_vtj_audit.ensure_partition(%s)", (period,))
        for period in (999912, 200001, next_period(next_period(next_period(next_period(now))))):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="current and the next month"):
                conn.execute("SELECT xroad_vtj_audit.ensure_partition(%s)", (period,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT xroad_vtj_audit.create_partition(%s)", (999912,))
        # nor can it insert into a period without a partition
        with pytest.raises(psycopg.Error):
            conn.execute(
                "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash) VALUES (1, 999912, '{}', '')"
            )
    with psycopg.connect(pg_db.admin_dsn) as conn:
        parts = {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'xroad_vtj_audit.record'::regclass"
            )
        }
    assert "record_999912" not in parts and "record_200001" not in parts


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_searchable_column_changed_behind_the_body_fails_verification(
    store: AuditStore, pg_db: PgDatabase
) -> None:
    """The columns searches and quotas read are filled from the hashed body; an owner who rewrites one (with the
    append-only triggers off) leaves the chain intact, so verify compares the columns with the bodies."""
    for i in range(3):
        await store.append_intent(intent(i, end_user="officer-1"))
    assert (await store.verify()).ok
    with psycopg.connect(pg_db.admin_dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE xroad_vtj_audit.record SET end_user_key = 'someone-else' WHERE seq = 2")
    report = await store.verify()
    assert not report.ok and report.bad_seq == 2
    assert "disagrees with the hashed body" in (report.problem or "")
