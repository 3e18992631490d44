"""The PostgreSQL store while its database is down: it fails fast, and works again by itself when it is back.

Runs against a throwaway cluster of its own (see :class:`tests.reliability.backends.ThrowawayPostgres`), since
the tests stop the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.audit.conftest import PgDatabase, keys_in
from tests.audit.helpers import intent, outcome
from tests.reliability.backends import ThrowawayPostgres, own_database
from tests.reliability.conftest import free_port, wait_until
from xroad_vtj.audit.config import parse_audit_config
from xroad_vtj.audit.pg_schema import migrate
from xroad_vtj.audit.pg_store import POOL_TIMEOUT_SECONDS, PostgresAuditStore
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.errors import AuditUnavailable
from xroad_vtj.metrics import Metrics

pytestmark = pytest.mark.postgres

# "at once": well inside the pool timeout that every call used to wait while the server was down
AT_ONCE = POOL_TIMEOUT_SECONDS / 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres(free_port())
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
async def pg_store(cluster: ThrowawayPostgres, tmp_path: Path) -> AsyncIterator[PostgresAuditStore]:
    cluster.ensure_running()
    with own_database(cluster.dsn) as dsn:
        migrate(dsn)
        config = parse_audit_config(
            {"backend": "postgresql", "dsn": dsn, **keys_in(tmp_path / "keys")}, tmp_path
        )
        store = open_store(config, instance="outage-1", metrics=Metrics())
        assert isinstance(store, PostgresAuditStore)
        await store.open(checkpoints=False)
        try:
            yield store
        finally:
            cluster.ensure_running()  # the test may have stopped it
            await store.close()


async def until_reachable(store: PostgresAuditStore) -> None:
    await wait_until(lambda: not store.unreachable, give_up=30.0)


async def test_once_the_database_proved_unreachable_appends_reads_and_ping_fail_at_once(
    pg_store: PostgresAuditStore, cluster: ThrowawayPostgres
) -> None:
    await pg_store.append_intent(intent(1))
    cluster.stop()
    with pytest.raises(AuditUnavailable):
        await pg_store.append_intent(intent(2))  # this one may wait for a connection attempt
    assert pg_store.unreachable
    for call in (
        lambda: pg_store.append_intent(intent(3)),
        pg_store.ping,
        pg_store.search,
        lambda: pg_store.append_outcome("some-audit-id", outcome()),
    ):
        async with asyncio.timeout(AT_ONCE):
            with pytest.raises(AuditUnavailable, match="unreachable"):
                await call()


async def test_appends_queued_when_the_database_goes_are_refused_and_none_is_reported_durable(
    pg_store: PostgresAuditStore, cluster: ThrowawayPostgres
) -> None:
    await pg_store.append_intent(intent(1))
    cluster.stop()
    results = await asyncio.gather(
        *(pg_store.append_intent(intent(n)) for n in range(2, 12)), return_exceptions=True
    )
    assert all(isinstance(r, AuditUnavailable) for r in results)
    cluster.start()
    await until_reachable(pg_store)
    assert [r["xroad_message_id"] for r in await pg_store.search()] == ["msg-1"]


async def test_when_the_database_is_back_the_store_works_again_by_itself(
    pg_store: PostgresAuditStore, cluster: ThrowawayPostgres
) -> None:
    await pg_store.append_intent(intent(1))
    cluster.stop()
    with pytest.raises(AuditUnavailable):
        await pg_store.append_intent(intent(2))
    with pytest.raises(AuditUnavailable):
        await pg_store.ping()
    cluster.start()
    await until_reachable(pg_store)  # the background probe, without any call to the store
    await pg_store.ping()  # degraded: proves a real write under the log's lock
    assert not pg_store.degraded
    await pg_store.append_intent(intent(3))
    assert [r["xroad_message_id"] for r in await pg_store.search()] == ["msg-1", "msg-3"]
    assert (await pg_store.verify()).ok


async def test_the_store_survives_several_outages_in_a_row(
    pg_store: PostgresAuditStore, cluster: ThrowawayPostgres
) -> None:
    for n in range(3):
        cluster.stop()
        with pytest.raises(AuditUnavailable):
            await pg_store.append_intent(intent(100 + n))
        cluster.start()
        await until_reachable(pg_store)
        await pg_store.append_intent(intent(n))
    assert [r["xroad_message_id"] for r in await pg_store.search()] == ["msg-0", "msg-1", "msg-2"]
    assert (await pg_store.verify()).ok


@pytest.fixture
def backend() -> str:
    return "postgresql"


async def test_a_refused_statement_is_not_an_outage_and_the_next_append_tries_the_database(
    store: AuditStore, pg_db: PgDatabase
) -> None:
    assert isinstance(store, PostgresAuditStore)
    revoke = sql.SQL("REVOKE INSERT ON xroad_vtj_audit.record FROM {}").format(sql.Identifier(pg_db.app_role))
    grant = sql.SQL("GRANT INSERT ON xroad_vtj_audit.record TO {}").format(sql.Identifier(pg_db.app_role))
    with psycopg.connect(pg_db.admin_dsn, autocommit=True) as conn:
        conn.execute(revoke)
        with pytest.raises(AuditUnavailable, match="InsufficientPrivilege"):
            await store.append_intent(intent(1))
        assert not store.unreachable
        conn.execute(grant)
    await store.append_intent(intent(2))
    assert [r["xroad_message_id"] for r in await store.search()] == ["msg-2"]
