"""Schema version 3 (partial indexes, issue 12 §2): a log written under version 2 migrates forward on both
databases, still verifies, and every search, count and sweep still finds its records."""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.audit.conftest import keys_in
from tests.audit.helpers import HETUS, intent, outcome
from xroad_vtj.audit import codec, core, pg_schema, sqlite_store
from xroad_vtj.audit.chain import GENESIS, period_of
from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.audit.keys import Keyring, read_key_file
from xroad_vtj.audit.store import AuditStore, ensure_embedded_keys, open_store


@pytest.fixture
def empty_db(pg_admin_dsn: str) -> Iterator[str]:
    name = f"xvtj_{secrets.token_hex(6)}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(pg_admin_dsn, dbname=name)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def version_2_bodies(keyring: Keyring) -> list[str]:
    """What a version 2 service wrote: random (version 4) audit ids, two finished queries, one without an
    outcome (its process died), a refusal-free day."""
    earlier = datetime.now(UTC) - timedelta(hours=2)
    bodies = []
    for i, subject in enumerate(HETUS[:3]):
        audit_id = str(uuid.uuid4())
        query = intent(i, end_user=f"officer-{i}", subject=subject, requested_at=earlier)
        bodies.append(codec.intent_body(query, audit_id, "v2", keyring))
        if i < 2:
            bodies.append(codec.outcome_body(audit_id, "v2", outcome(), keyring))
    return bodies


def chained_rows(bodies: list[str]) -> list[tuple[int, int, str, bytes]]:
    chained = core.chain((0, GENESIS, 0), [b.encode() for b in bodies], period_of(datetime.now(UTC)))
    return [(c.seq, c.period, body, c.hash) for c, body in zip(chained, bodies, strict=True)]


async def still_works(store: AuditStore) -> None:
    """The migrated log verifies, is found by every search and count, and its open intent is swept."""
    assert (await store.verify()).ok
    assert [r["xroad_message_id"] for r in await store.search(xroad_id="msg-1")] == ["msg-1"]
    assert [r["xroad_message_id"] for r in await store.search(subject=HETUS[2])] == ["msg-2"]
    assert [r["outcome"] for r in await store.search(end_user="officer-0")] == ["found"]
    since = datetime.now(UTC) - timedelta(days=1)
    assert await store.count_queries(since=since, caller="caseapp") == 3
    assert await store.count_distinct_subjects(since=since, caller="caseapp", end_user="officer-1") == 1
    assert await store.mark_unfinished_unknown(datetime.now(UTC) - timedelta(hours=1)) == 1
    assert [r["outcome"] for r in await store.search(xroad_id="msg-2")] == ["outcome_unknown"]
    # new records (time-ordered audit ids) chain on, and the whole log still verifies
    audit_id = await store.append_intent(intent(7, subject=HETUS[3]))
    await store.append_outcome(audit_id, outcome())
    assert uuid.UUID(audit_id).version == 7
    assert [r["outcome"] for r in await store.search(subject=HETUS[3])] == ["found"]
    assert (await store.verify()).ok


async def test_a_version_2_sqlite_log_migrates_to_version_3_and_still_verifies(
    sqlite_config: AuditConfig,
) -> None:
    cfg = sqlite_config.with_defaults()
    assert cfg.sqlite_path is not None and cfg.data_key_file is not None
    ensure_embedded_keys(cfg)
    keyring = Keyring(read_key_file(cfg.data_key_file, "k"))
    conn = sqlite_store.connect(cfg.sqlite_path)
    try:
        for _, name in sqlite_store.MIGRATIONS[:2]:
            for statement in sqlite_store._statements(sqlite_store._migration(name)):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        conn.executemany(
            "INSERT INTO audit_record (seq, period, body, hash) VALUES (?, ?, ?, ?)",
            chained_rows(version_2_bodies(keyring)),
        )
    finally:
        conn.close()

    store = open_store(sqlite_config, instance="v3")
    await store.open(checkpoints=False)
    try:
        await still_works(store)
    finally:
        await store.close()
    check = sqlite3.connect(cfg.sqlite_path)
    try:
        assert check.execute("PRAGMA user_version").fetchone() == (3,)
        partial = {
            r[0]
            for r in check.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %IS NOT NULL'"
            )
        }
        assert {"audit_record_message_id", "audit_record_subject", "audit_record_kind_time"} <= partial
    finally:
        check.close()


async def test_a_version_2_postgresql_log_migrates_to_version_3_and_still_verifies(
    empty_db: str, tmp_path: Path
) -> None:
    with psycopg.connect(empty_db) as conn:  # what version 2's migrate left
        conn.execute(
            "CREATE SCHEMA xroad_vtj_audit; CREATE TABLE xroad_vtj_audit.schema_version"
            " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for number, name in pg_schema.MIGRATIONS[:2]:
            conn.execute(pg_schema._migration_text(name).encode())
            conn.execute("INSERT INTO xroad_vtj_audit.schema_version (version) VALUES (%s)", (number,))
        conn.execute("SELECT xroad_vtj_audit.create_partition(%s)", (period_of(datetime.now(UTC)),))
    config = parse_audit_config(
        {"backend": "postgresql", "dsn": empty_db, **keys_in(tmp_path / "keys")}, tmp_path
    )
    assert config.data_key_file is not None
    keyring = Keyring(read_key_file(config.data_key_file, "k"))
    with psycopg.connect(empty_db) as conn:
        conn.cursor().executemany(
            "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash) VALUES (%s, %s, %s, %s)",
            chained_rows(version_2_bodies(keyring)),
        )
    assert pg_schema.migrate(empty_db) == pg_schema.SCHEMA_VERSION == 3

    store = open_store(dataclasses.replace(config, dsn=empty_db), instance="v3")
    await store.open(checkpoints=False)
    try:
        await still_works(store)
    finally:
        await store.close()
    with psycopg.connect(empty_db) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")  # as a prepared statement is planned
        conn.execute("SET enable_seqscan = off")  # a tiny table: ask whether an index CAN serve the read
        # a partition's index is named for its columns; on a table this small any index will do for the end user
        for where, index in (
            ("subject_index = ANY($1::text[])", "_subject_index_idx"),
            ("xroad_message_id = $1::text", "_xroad_message_id_idx"),
            ("end_user = $1::text AND kind = 'intent' AND requested_at >= $1::text", "Index"),
            ("kind = 'intent' AND requested_at >= $1::text", "_kind_requested_at_idx"),
            ("kind = 'event'", "_seq_idx"),
        ):
            conn.execute("DEALLOCATE ALL")
            conn.execute(f"PREPARE q(text) AS SELECT seq FROM xroad_vtj_audit.record WHERE {where}")  # noqa: S608
            arg = "'{x}'" if "ANY" in where else "'x'"
            plan = "\n".join(str(r[0]) for r in conn.execute(f"EXPLAIN EXECUTE q({arg})"))
            assert index in plan, (where, plan)
            assert "Seq Scan" not in plan, (where, plan)
            assert "kind = 'event'" not in where or "Filter" not in plan, plan  # the event index, not seq's
