"""Retention removes whole months older than the retention period, never the last five years."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.audit.helpers import intent
from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import period_of
from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.audit.retention import keep_from_period
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.errors import ConfigError

OLD_MONTHS = ((2015, 1), (2015, 2), (2016, 6))


@pytest.fixture
def admin_dsn(config: AuditConfig, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_db").admin_dsn if config.backend == "postgresql" else None


def _old_partitions(admin_dsn: str | None, periods: list[int]) -> None:
    """The application may create only this month's and the next month's partitions: old ones the owner makes."""
    if admin_dsn is not None:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            for p in periods:
                conn.execute("SELECT xroad_vtj_audit.create_partition(%s)", (p,))


async def _old_log(store: AuditStore, admin_dsn: str | None = None) -> int:
    """Three records in old months, a checkpoint, one record in the oldest month kept, two current ones."""
    _old_partitions(
        admin_dsn, [y * 100 + m for y, m in OLD_MONTHS] + [keep_from_period(datetime.now(UTC), 5)]
    )
    bodies = [
        codec.intent_body(
            intent(i, requested_at=datetime(y, m, 15, tzinfo=UTC)), codec.new_audit_id(), "old", store.keyring
        )
        for i, (y, m) in enumerate(OLD_MONTHS)
    ]
    await store.append_bodies_at(bodies, [y * 100 + m for y, m in OLD_MONTHS])
    await store.checkpoint()
    edge = keep_from_period(datetime.now(UTC), 5)
    edge_body = codec.intent_body(intent(10), codec.new_audit_id(), "old", store.keyring)
    await store.append_bodies_at([edge_body], [edge])
    await store.append_intent(intent(11))
    await store.append_intent(intent(12))
    return edge


async def test_whole_old_months_are_removed_as_an_audit_event_and_the_log_still_verifies(
    store: AuditStore, admin_dsn: str | None
) -> None:
    edge = await _old_log(store, admin_dsn)
    assert edge < period_of(datetime.now(UTC))
    result = await store.apply_retention(admin_dsn=admin_dsn)
    assert result.removed_records == 3
    assert (result.first_removed_seq, result.last_removed_seq) == (1, 3)
    assert result.periods == (201501, 201502, 201606)
    assert result.keep_from_period == edge
    assert [r["xroad_message_id"] for r in await store.search()] == ["msg-10", "msg-11", "msg-12"]
    report = await store.verify()
    assert report.ok, report.problem
    assert (report.first_seq, report.last_seq) == (4, 7)  # 7 = the retention event
    assert report.checkpoints == 2  # the one covering removed records still verifies


async def test_retention_with_nothing_old_enough_removes_nothing_and_records_nothing(
    store: AuditStore, admin_dsn: str | None
) -> None:
    await store.append_intent(intent(1))
    result = await store.apply_retention(admin_dsn=admin_dsn)
    assert result.removed_records == 0
    assert (await store.verify()).records == 1


async def test_the_database_refuses_to_remove_any_of_the_last_five_years(
    store: AuditStore, config: AuditConfig, admin_dsn: str | None
) -> None:
    recent = keep_from_period(datetime.now(UTC), 5)
    if config.backend == "sqlite":
        assert config.sqlite_path is not None
        conn = sqlite3.connect(config.sqlite_path)
        with pytest.raises(sqlite3.IntegrityError, match="last five years"):
            conn.execute("INSERT INTO audit_retention_permit (through_period) VALUES (?)", (recent,))
        conn.close()
    else:
        assert admin_dsn is not None
        with (
            psycopg.connect(admin_dsn) as pg,
            pytest.raises(psycopg.errors.RaiseException, match="five years"),
        ):
            pg.execute("SELECT xroad_vtj_audit.remove_period(%s)", (recent,))


def test_a_retention_period_under_five_years_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"audit\.retention_years"):
        parse_audit_config({"retention_years": 4}, tmp_path)


async def test_a_longer_retention_period_keeps_more(
    store: AuditStore, config: AuditConfig, admin_dsn: str | None
) -> None:
    await _old_log(store, admin_dsn)
    longer = open_store(dataclasses.replace(config, retention_years=11), instance="t2")
    await longer.open(checkpoints=False)
    try:
        result = await longer.apply_retention(admin_dsn=admin_dsn)
        keep_from = keep_from_period(datetime.now(UTC), 11)
        assert result.periods == tuple(y * 100 + m for y, m in OLD_MONTHS if y * 100 + m < keep_from)
        assert (await longer.verify()).ok
    finally:
        await longer.close()
