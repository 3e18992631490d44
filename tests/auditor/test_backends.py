"""The view over both stores: SQLite and PostgreSQL (as the application role, which may only SELECT and
INSERT: enough for the view and its audit_access events)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

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


async def test_the_newest_access_events_are_found_however_many_records_follow_them(
    store: AuditStore,  # noqa: F811  # the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.audit.helpers import intent
    from xroad_vtj.audit import codec
    from xroad_vtj.audit.chain import period_of, utcnow
    from xroad_vtj.auditor import reads

    await store.append_event("audit_access", {"auditor": "A", "page": "search"})
    await store.append_event("audit_access", {"auditor": "B", "page": "record"})
    await store.mark_unfinished_unknown(utcnow())  # another kind of event, newer
    # a busy day after them: more records than any fixed look-back would cover
    bodies = [codec.intent_body(intent(i), f"a-{i}", "t", store.keyring) for i in range(12_000)]
    await store.append_bodies_at(bodies, [period_of(utcnow())] * len(bodies))
    events = await reads.access_events(store, limit=5)
    assert [e.auditor for e in events] == ["B", "A"]
    assert [e.page for e in await reads.access_events(store, limit=1)] == ["record"]
    # read a few events at a time: each chunk starts below the previous one, nothing is read twice
    monkeypatch.setattr(reads, "EVENT_CHUNK", 2)
    assert [e.auditor for e in await reads.access_events(store, limit=5)] == ["B", "A"]
