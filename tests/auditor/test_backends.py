"""The view over both stores: SQLite and PostgreSQL (as the application role, which may only SELECT and
INSERT: enough for the view and its audit_access events)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.audit.conftest import (  # noqa: F401  # fixtures: the audit tests' real stores
    backend,
    config,
    metrics,
    pg_admin_dsn,
    pg_db,
    pg_session_db,
    raw_config,
    store,
)
from tests.audit.test_checkpoint import xmlsec1_verifies
from tests.auditor.data import SUBJECT, SUBJECT_QUERIES, populate
from tests.auditor.events import access_events
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.auditor.app import create_view_app
from xroad_vtj.auditor.session import Sessions


async def test_overview_search_and_signed_report_on_each_backend(
    store: AuditStore,  # noqa: F811  # the fixture imported above
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    ids = await populate(store)
    sessions = Sessions()
    client = await aiohttp_client(
        create_view_app(store, auditor="A", sessions=sessions, verify_in_background=False)
    )
    await client.get(f"/?token={sessions.token}")
    overview = await (await client.get("/")).text()
    assert "socialapp" in overview and "quota exceeded" in overview

    html = await (await client.post("/search", data={"subject": SUBJECT})).text()
    assert sorted(set(re.findall(r"/records/([0-9a-f-]{36})", html))) == sorted(ids)

    html = await (
        await client.post("/report", data={"subject": SUBJECT, "from": "2000-01-01", "to": "2100-01-01"})
    ).text()
    link = re.search(r'href="(/report/[^"/]+/report\.xml)"', html)
    assert link
    document = await (await client.get(link.group(1))).read()
    assert document.count(b"<Query ") == SUBJECT_QUERIES
    (tmp_path / "report.xml").write_bytes(document)
    cert = store.config.signing_cert_file
    assert cert is not None
    assert xmlsec1_verifies(tmp_path / "report.xml", cert)
    assert [e["page"] for e in await access_events(store)] == ["search", "report", "report_xml"]


async def test_the_view_finds_a_property_by_any_written_form(
    store: AuditStore,  # noqa: F811  # the fixture imported above
    aiohttp_client: Any,
) -> None:
    from tests.audit.helpers import intent

    audit_id = await store.append_intent(intent(0, subject="09140300010005"))
    sessions = Sessions()
    client = await aiohttp_client(
        create_view_app(store, auditor="A", sessions=sessions, verify_in_background=False)
    )
    await client.get(f"/?token={sessions.token}")
    for written in ("91-403-1-5", "091-403-0001-0005"):
        html = await (await client.post("/search", data={"subject": written})).text()
        assert re.findall(r"/records/([0-9a-f-]{36})", html)[:1] == [audit_id], written
