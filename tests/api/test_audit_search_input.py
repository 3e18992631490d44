"""Audit search filters that no record can hold are refused as the caller's error, not the store's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.audit.conftest import PgDatabase, keys_in, pg_admin_dsn, pg_db, pg_session_db  # noqa: F401
from tests.conftest import AUDITOR_TOKEN, Running, ServiceFactory, Sim, base_config


@pytest.fixture(params=["sqlite", "postgresql"])
async def service(
    request: pytest.FixtureRequest, simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> Running:
    """The service on either store (PostgreSQL refused NUL with a DataError that became 503)."""
    raw = base_config(tmp_path, simulator.url)
    if request.param == "postgresql":
        db: PgDatabase = request.getfixturevalue("pg_db")
        raw["audit"] = {"backend": "postgresql", "dsn": db.app_dsn, **keys_in(tmp_path / "keys")}
    started: Running = await start_service(raw)
    return started


@pytest.mark.parametrize("field", ["end_user", "caller", "xroad_id", "subject"])
async def test_a_nul_byte_in_a_search_filter_is_400_not_503(service: Running, field: str) -> None:
    async with service.session.post(
        f"{service.base}/v1/audit/search",
        json={field: "officer\u00001"},
        headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"},
    ) as r:
        body = await r.json()
    assert (r.status, body["code"]) == (400, "invalid_request")
    async with service.session.get(
        f"{service.base}/v1/audit/records",
        params={field: "officer\u00001"},
        headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"},
    ) as r:
        assert (r.status, (await r.json())["code"]) == (400, "invalid_request")


async def test_a_tampered_log_is_409_with_its_size_and_stored_head(running: Running, tmp_path: Path) -> None:
    for _ in range(3):
        await running.query()
    status, intact = await running.get("/v1/audit/verify", AUDITOR_TOKEN)
    assert status == 200, intact
    conn = sqlite3.connect(tmp_path / "audit.sqlite3", isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_record_no_update")
        (seq,) = conn.execute("SELECT min(seq) FROM audit_record WHERE kind = 'outcome'").fetchone()
        conn.execute(
            "UPDATE audit_record SET body = replace(body, '\"found\"', '\"not_found\"') WHERE seq = ?", (seq,)
        )
    finally:
        conn.close()
    status, body = await running.get("/v1/audit/verify", AUDITOR_TOKEN)
    assert status == 409
    assert body["problem"] == f"record {seq} was altered (its content does not match its record MAC)"
    assert (body["records"], body["last_seq"]) == (intact["records"], intact["last_seq"])
    assert body["last_seq"] > 0 and body["head_hash"] == intact["head_hash"] != "0" * 64


async def test_the_search_filters_by_caller_and_answers_each_records_mac(running: Running) -> None:
    await running.query()
    status, body = await running.get("/v1/audit/records?caller=nobody", AUDITOR_TOKEN)
    assert (status, body["count"]) == (200, 0)
    status, body = await running.get("/v1/audit/records?caller=caseapp", AUDITOR_TOKEN)
    assert status == 200 and body["count"] >= 1
    assert {r["caller"] for r in body["records"]} == {"caseapp"}
    assert {r["record_mac"] for r in body["records"]} == {"valid"}
