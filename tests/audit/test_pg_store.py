"""PostgreSQL specifics: migrations, the application role's rights, triggers, partitions, reconnection."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.audit.conftest import PgDatabase
from tests.audit.helpers import intent
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.pg_schema import SCHEMA_VERSION, migrate
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.errors import AuditUnavailable
from xroad_vtj.metrics import Metrics

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def empty_db(pg_admin_dsn: str) -> Iterator[str]:
    name = f"xvtj_{secrets.token_hex(6)}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(pg_admin_dsn, dbname=name)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE xroad_vtj_audit.record SET body = body",
        "DELETE FROM xroad_vtj_audit.record",
        "TRUNCATE xroad_vtj_audit.record",
        "UPDATE xroad_vtj_audit.checkpoint SET document = document",
        "CREATE TABLE xroad_vtj_audit.extra (x int)",
        "SELECT xroad_vtj_audit.remove_period(200001)",
    ],
)
async def test_the_application_role_may_only_insert_and_select(
    store: AuditStore, pg_db: PgDatabase, statement: str
) -> None:
    await store.append_intent(intent(1))
    with (
        psycopg.connect(pg_db.app_dsn, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement.encode())


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE xroad_vtj_audit.record SET body = body",
        "DELETE FROM xroad_vtj_audit.record",
        "TRUNCATE xroad_vtj_audit.record",
        "TRUNCATE xroad_vtj_audit.record_{period}",
        "UPDATE xroad_vtj_audit.record_{period} SET body = body",
        "DELETE FROM xroad_vtj_audit.checkpoint",
        "TRUNCATE xroad_vtj_audit.checkpoint",
    ],
)
async def test_triggers_refuse_changes_even_from_the_owner(
    store: AuditStore, pg_db: PgDatabase, statement: str
) -> None:
    await store.append_intent(intent(1))
    await store.checkpoint()
    period = datetime.now(UTC).strftime("%Y%m")
    with (
        psycopg.connect(pg_db.admin_dsn, autocommit=True) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        conn.execute(statement.format(period=period).encode())


async def test_records_land_in_monthly_partitions(store: AuditStore, pg_db: PgDatabase) -> None:
    await store.append_intent(intent(1))
    with psycopg.connect(pg_db.admin_dsn) as conn:
        [(partition,)] = conn.execute("SELECT DISTINCT tableoid::regclass::text FROM xroad_vtj_audit.record")
    assert partition == f"xroad_vtj_audit.record_{datetime.now(UTC):%Y%m}"


async def test_a_database_without_the_schema_is_refused_with_a_hint_to_migrate(
    empty_db: str, config: AuditConfig
) -> None:
    store = open_store(dataclasses.replace(config, dsn=empty_db), instance="t")
    with pytest.raises(AuditUnavailable, match="audit migrate"):
        await store.open(checkpoints=False)


def test_migrate_is_idempotent(empty_db: str) -> None:
    assert migrate(empty_db) == SCHEMA_VERSION
    assert migrate(empty_db) == SCHEMA_VERSION
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM xroad_vtj_audit.schema_version").fetchone() == (
            SCHEMA_VERSION,
        )


async def test_an_unreachable_database_answers_audit_unavailable(config: AuditConfig) -> None:
    store = open_store(dataclasses.replace(config, dsn="postgresql://nobody@127.0.0.1:1/none"), instance="t")
    with pytest.raises(AuditUnavailable):
        await store.open(checkpoints=False)


async def test_the_store_reconnects_after_the_server_drops_its_connections(
    store: AuditStore, pg_db: PgDatabase, pg_admin_dsn: str
) -> None:
    await store.append_intent(intent(1))
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (pg_db.name,),
        )
    await store.append_intent(intent(2))
    await store.ping()
    assert [r["xroad_message_id"] for r in await store.search()] == ["msg-1", "msg-2"]
    assert (await store.verify()).ok


async def test_appends_fail_while_the_role_may_not_write_and_readiness_recovers_by_itself(
    store: AuditStore, pg_db: PgDatabase, metrics: Metrics
) -> None:
    revoke = sql.SQL("REVOKE INSERT ON xroad_vtj_audit.record FROM {}").format(sql.Identifier(pg_db.app_role))
    grant = sql.SQL("GRANT INSERT ON xroad_vtj_audit.record TO {}").format(sql.Identifier(pg_db.app_role))
    await store.ping()
    with psycopg.connect(pg_db.admin_dsn, autocommit=True) as conn:
        conn.execute(revoke)
        with pytest.raises(AuditUnavailable):
            await store.append_intent(intent(1))
        assert metrics.registry.get_sample_value("xroad_vtj_audit_append_failures_total") == 1
        with pytest.raises(AuditUnavailable):
            await store.ping()
        conn.execute(grant)
    await store.ping()
    await store.append_intent(intent(2))
    assert [r["xroad_message_id"] for r in await store.search()] == ["msg-2"]
    assert (await store.verify()).ok


def test_a_version_1_schema_with_records_is_migrated_forward_and_still_verifies(
    empty_db: str, config: AuditConfig
) -> None:
    import asyncio
    import json

    from xroad_vtj.audit import codec, pg_schema
    from xroad_vtj.audit.chain import GENESIS, period_of, record_hash
    from xroad_vtj.audit.keys import Keyring, read_key_file
    from xroad_vtj.audit.mac import sealed_body

    period = period_of(datetime.now(UTC))
    with psycopg.connect(empty_db) as conn:  # what version 1's migrate left
        conn.execute(
            "CREATE SCHEMA xroad_vtj_audit; CREATE TABLE xroad_vtj_audit.schema_version"
            " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(pg_schema._migration_text(pg_schema.MIGRATIONS[0][1]).encode())
        conn.execute("INSERT INTO xroad_vtj_audit.schema_version (version) VALUES (1)")
        conn.execute("SELECT xroad_vtj_audit.ensure_partition(%s)", (period,))
    cfg = config.with_defaults()
    assert cfg.data_key_file is not None
    keyring = Keyring(read_key_file(cfg.data_key_file, "k"))
    fields = json.loads(
        codec.intent_body(intent(1, end_user="Old.Officer"), codec.new_audit_id(), "v1", keyring)
    )
    # a body written by version 1: no end_user_key, its record MAC over what it holds
    del fields["end_user_key"], fields["mac"]
    body = sealed_body(fields, keyring)
    with psycopg.connect(empty_db) as conn:
        conn.execute(
            "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash) VALUES (1, %s, %s, %s)",
            (period, body, record_hash(GENESIS, 1, period, body.encode())),
        )
    assert migrate(empty_db) == SCHEMA_VERSION == 3

    async def check() -> None:
        store = open_store(dataclasses.replace(config, dsn=empty_db), instance="v2")
        await store.open(checkpoints=False)
        try:
            await store.append_intent(intent(2, end_user="OLD.OFFICER"))
            assert (await store.verify()).ok
            state = await store.end_user_usage("caseapp", "old.officer", "Old.Officer", set())
            assert (
                len(state.times) == 2
            )  # the version 1 intent by its end user as sent, the new one by its key
        finally:
            await store.close()

    asyncio.run(check())
