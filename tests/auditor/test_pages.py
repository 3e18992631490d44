"""The view's pages through a real HTTP client: access, headers, search, record, report and downloads."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.audit.test_checkpoint import xmlsec1_verifies
from tests.auditor.conftest import AUDITOR
from tests.auditor.data import OTHER, SUBJECT, SUBJECT_QUERIES, append_forged_intent
from tests.auditor.events import access_events, raw_log_text
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.auditor.app import create_view_app
from xroad_vtj.auditor.session import Sessions
from xroad_vtj.errors import AuditUnavailable

SCHEMA = etree.XMLSchema(
    etree.parse(str(Path(__file__).resolve().parents[2] / "schemas" / "audit-evidence.xsd"))
)
Client = TestClient[Any, Any]

PAGES = [
    ("GET", "/"),
    ("GET", "/search"),
    ("POST", "/search"),
    ("GET", "/report"),
    ("POST", "/report"),
    ("POST", "/verify"),
    ("POST", "/sign-out"),
    ("GET", "/records/00000000-0000-4000-8000-000000000000"),
    ("GET", "/records/00000000-0000-4000-8000-000000000000/evidence.xml"),
    ("GET", "/report/abc/report.csv"),
    ("GET", "/report/abc/report.xml"),
]


def _record_links(html: str) -> list[str]:
    return sorted(set(re.findall(r'href="(/records/[0-9a-f-]{36})"', html)))


async def _report(client: Client, subject: str = SUBJECT) -> str:
    response = await client.post(
        "/report", data={"subject": subject, "from": "2000-01-01", "to": "2100-12-31"}
    )
    assert response.status == 200
    return await response.text()


@pytest.mark.parametrize(("method", "path"), PAGES)
async def test_every_page_without_the_session_is_401(client: Client, method: str, path: str) -> None:
    response = await client.request(method, path, data={"subject": SUBJECT}, allow_redirects=False)
    assert response.status == 401
    assert SUBJECT not in await response.text()


async def test_a_wrong_token_is_401_and_sets_no_cookie(client: Client, sessions: Sessions) -> None:
    response = await client.get("/?token=" + "x" * len(sessions.token), allow_redirects=False)
    assert response.status == 401
    assert "Set-Cookie" not in response.headers


async def test_the_token_url_sets_an_httponly_strict_cookie_and_redirects_to_a_url_without_it(
    client: Client, sessions: Sessions
) -> None:
    response = await client.get(f"/search?token={sessions.token}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert sessions.token not in cookie
    assert (await client.get("/")).status == 200


@pytest.mark.parametrize("path", ["/", "/search", "/nowhere", "/static/style.css"])
async def test_every_answer_carries_the_security_headers(signed_in: Client, path: str) -> None:
    response = await signed_in.get(path)
    headers = response.headers
    assert "script-src" not in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_pages_hold_no_script_no_inline_style_and_nothing_from_elsewhere(signed_in: Client) -> None:
    for html in [await (await signed_in.get("/")).text(), await _report(signed_in)]:
        assert "<script" not in html
        assert " style=" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html)


async def test_the_overview_shows_counts_and_a_chart_without_decrypting_or_logging(
    signed_in: Client, view_store: AuditStore
) -> None:
    before = len(await access_events(view_store))
    html = await (await signed_in.get("/")).text()
    assert '<svg class="chart"' in html
    for caller in ("caseapp", "taxapp", "socialapp"):
        assert caller in html
    assert "quota exceeded" in html and "invalid hetu" in html
    assert "maija.virtanen" in html  # among the end users with most distinct subjects this week
    for hetu in (SUBJECT, OTHER):
        assert hetu not in html
    assert len(await access_events(view_store)) == before


async def test_the_overview_reports_the_integrity_check(signed_in: Client) -> None:
    response = await signed_in.post("/verify", allow_redirects=False)
    assert response.status == 303
    for _ in range(100):
        html = await (await signed_in.get("/")).text()
        if "Checking" not in html:
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert "Intact" in html


async def test_a_subject_search_finds_its_queries_and_leaves_an_access_event_with_the_blind_index_only(
    signed_in: Client, view_store: AuditStore, populated: tuple[Path, list[str]]
) -> None:
    response = await signed_in.post("/search", data={"subject": SUBJECT.lower() + " "})
    html = await response.text()
    assert response.status == 200
    assert _record_links(html) == sorted(f"/records/{a}" for a in populated[1])
    assert SUBJECT not in html  # neither echoed into the form nor listed
    events = await access_events(view_store)
    assert events[-1]["auditor"] == AUDITOR
    assert events[-1]["page"] == "search"
    assert events[-1]["subject_indexes"] == view_store.keyring.blind_indexes(SUBJECT)
    assert events[-1]["results"] == SUBJECT_QUERIES
    assert "recorded_at" in events[-1]
    assert SUBJECT not in await raw_log_text(view_store)


async def test_search_by_end_user_caller_and_dates(signed_in: Client) -> None:
    html = await (
        await signed_in.post("/search", data={"end_user": "maija.virtanen", "caller": "caseapp"})
    ).text()
    assert len(_record_links(html)) == SUBJECT_QUERIES
    html = await (
        await signed_in.post("/search", data={"end_user": "maija.virtanen", "caller": "taxapp"})
    ).text()
    assert _record_links(html) == []
    html = await (await signed_in.post("/search", data={"from": "2100-01-01"})).text()
    assert _record_links(html) == []
    html = await (await signed_in.post("/search", data={"from": "2026-13-01"})).text()
    assert "YYYY-MM-DD" in html
    html = await (await signed_in.post("/search", data={})).text()
    assert "at least one search condition" in html


async def test_a_record_shows_intent_and_outcome_and_its_chain_position_and_is_logged(
    signed_in: Client, view_store: AuditStore, populated: tuple[Path, list[str]]
) -> None:
    audit_id = populated[1][0]
    html = await (await signed_in.get(f"/records/{audit_id}")).text()
    assert SUBJECT in html
    for text in (
        "Intent (before sending)",
        "Outcome",
        "Position in the hash chain",
        "HenkilonTunnusKysely",
        "+0",
    ):
        assert text in html
    assert "evidence.xml" in html
    event = (await access_events(view_store))[-1]
    assert event["page"] == "record" and event["audit_ids"] == [audit_id]
    assert event["subject_indexes"] == [view_store.keyring.blind_indexes(SUBJECT)[0]]


async def test_a_record_that_does_not_exist_is_404(signed_in: Client) -> None:
    assert (await signed_in.get("/records/00000000-0000-4000-8000-000000000000")).status == 404


async def test_the_record_evidence_is_the_signed_proof_and_verifies_with_xmlsec1(
    signed_in: Client, view_store: AuditStore, populated: tuple[Path, list[str]], tmp_path: Path
) -> None:
    response = await signed_in.get(f"/records/{populated[1][0]}/evidence.xml")
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    document = await response.read()
    SCHEMA.assertValid(etree.fromstring(document))
    path = tmp_path / "proof.xml"
    path.write_bytes(document)
    assert view_store.config.signing_cert_file is not None
    assert xmlsec1_verifies(path, view_store.config.signing_cert_file)
    assert (await access_events(view_store))[-1]["page"] == "proof"


async def test_a_report_lists_every_query_about_the_subject_and_downloads_csv_and_signed_xml(
    signed_in: Client, view_store: AuditStore, populated: tuple[Path, list[str]], tmp_path: Path
) -> None:
    html = await _report(signed_in)
    assert SUBJECT in html
    assert _record_links(html) == sorted(f"/records/{a}" for a in populated[1])
    csv_link = re.search(r'href="(/report/[^"/]+/report\.csv)"', html)
    xml_link = re.search(r'href="(/report/[^"/]+/report\.xml)"', html)
    assert csv_link and xml_link
    assert SUBJECT not in csv_link.group(1) and SUBJECT not in xml_link.group(1)

    response = await signed_in.get(csv_link.group(1))
    assert response.status == 200 and response.content_type == "text/csv"
    assert SUBJECT not in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert len(rows) == SUBJECT_QUERIES
    assert {r["subject"] for r in rows} == {SUBJECT}
    assert all(re.search(r"\+0[23]:00$", r["requested_at"]) for r in rows)

    document = await (await signed_in.get(xml_link.group(1))).read()
    root = etree.fromstring(document)
    SCHEMA.assertValid(root)
    assert root.tag == "{urn:xroad-vtj:audit:1}SubjectReport"
    assert root.find("{urn:xroad-vtj:audit:1}Queries").get("count") == str(SUBJECT_QUERIES)
    assert OTHER.encode() not in document  # nobody else's data
    path = tmp_path / "report.xml"
    path.write_bytes(document)
    assert view_store.config.signing_cert_file is not None
    assert xmlsec1_verifies(path, view_store.config.signing_cert_file)
    changed = tmp_path / "changed.xml"
    changed.write_bytes(document.replace(b"maija.virtanen", b"maija.virtaneN", 1))
    assert not xmlsec1_verifies(changed, view_store.config.signing_cert_file)

    pages = [e["page"] for e in (await access_events(view_store))[-3:]]
    assert pages == ["report", "report_csv", "report_xml"]
    assert SUBJECT not in await raw_log_text(view_store)


async def test_a_report_needs_a_subject_and_a_period(signed_in: Client) -> None:
    html = await (await signed_in.post("/report", data={"subject": SUBJECT, "from": "2026-01-01"})).text()
    assert "Give the subject and the period" in html
    html = await (
        await signed_in.post("/report", data={"subject": SUBJECT, "from": "2026-02-01", "to": "2026-01-01"})
    ).text()
    assert "must not be after" in html


async def test_report_downloads_belong_to_their_session(
    signed_in: Client, aiohttp_client: Any, view_store: AuditStore, sessions: Sessions
) -> None:
    html = await _report(signed_in)
    link = re.search(r'href="(/report/[^"/]+/report\.csv)"', html)
    assert link
    other = await aiohttp_client(
        create_view_app(view_store, auditor="other", sessions=sessions, verify_in_background=False)
    )
    await other.get(f"/?token={sessions.token}")
    assert (await other.get(link.group(1))).status == 404


async def test_a_post_from_another_origin_is_refused(signed_in: Client) -> None:
    response = await signed_in.post(
        "/search", data={"subject": SUBJECT}, headers={"Origin": "http://evil.example"}
    )
    assert response.status == 403
    ok = await signed_in.post(
        "/search", data={"subject": SUBJECT}, headers={"Origin": f"http://{signed_in.host}:{signed_in.port}"}
    )
    assert ok.status == 200


async def test_when_the_access_event_cannot_be_written_no_data_is_shown(
    signed_in: Client,
    view_store: AuditStore,
    monkeypatch: pytest.MonkeyPatch,
    populated: tuple[Path, list[str]],
) -> None:
    async def fail(*args: Any, **kwargs: Any) -> int:
        raise AuditUnavailable("audit store write failed (disk I/O error)")

    monkeypatch.setattr(view_store, "append_event", fail)
    for response in (
        await signed_in.post("/search", data={"subject": SUBJECT}),
        await signed_in.get(f"/records/{populated[1][0]}"),
        await signed_in.post("/report", data={"subject": SUBJECT, "from": "2000-01-01", "to": "2100-01-01"}),
    ):
        assert response.status == 503
        html = await response.text()
        assert SUBJECT not in html and "maija.virtanen" not in html


async def test_labels_in_finnish(aiohttp_client: Any, view_store: AuditStore, sessions: Sessions) -> None:
    client = await aiohttp_client(
        create_view_app(view_store, auditor=AUDITOR, lang="fi", sessions=sessions, verify_in_background=False)
    )
    await client.get(f"/?token={sessions.token}")
    html = await (await client.get("/")).text()
    assert 'lang="fi"' in html and "Yleiskuva" in html and "Kyselyt päivittäin" in html
    html = await (
        await client.post("/report", data={"subject": SUBJECT, "from": "2000-01-01", "to": "2100-01-01"})
    ).text()
    assert "Lataa allekirjoitettu XML" in html


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.dictionaries(
        st.sampled_from(["subject", "end_user", "caller", "xroad_id", "from", "to"]),
        st.text(max_size=300),
        max_size=6,
    )
)
async def test_hostile_form_input_never_breaks_a_page(signed_in: Client, fields: dict[str, str]) -> None:
    for path in ("/search", "/report"):
        response = await signed_in.post(path, data=fields)
        assert response.status in (200, 503), await response.text()
        assert response.status == 200


async def test_a_long_hostile_form_is_answered_quickly(signed_in: Client) -> None:
    import time

    started = time.monotonic()
    response = await signed_in.post("/search", data={"end_user": "x<" * 12_000, "from": "9" * 1000})
    assert response.status == 200
    assert time.monotonic() - started < 2.0
    assert (await signed_in.post("/search", data={"end_user": "x" * 70_000})).status == 413


async def test_stored_text_is_escaped_on_every_page(signed_in: Client, view_store: AuditStore) -> None:
    import dataclasses

    from tests.audit.helpers import intent, outcome

    evil = '<script>alert("x")</script>'
    audit_id = await view_store.append_intent(
        dataclasses.replace(intent(77), caller=evil, end_user=evil, purpose=evil)
    )
    await view_store.append_outcome(audit_id, outcome("found"))
    pages = [
        await (await signed_in.get("/")).text(),
        await (await signed_in.post("/search", data={"caller": evil})).text(),
        await (await signed_in.get(f"/records/{audit_id}")).text(),
    ]
    for html in pages:
        assert "<script" not in html
    assert "&lt;script&gt;" in pages[2]


async def test_an_unexpected_failure_is_a_bare_500_with_the_headers_and_nothing_typed(
    signed_in: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xroad_vtj.auditor import reads

    async def broken(*args: Any) -> None:
        raise RuntimeError(f"bug while looking at {SUBJECT}")

    monkeypatch.setattr(reads, "record", broken)
    response = await signed_in.get("/records/00000000-0000-4000-8000-000000000000")
    assert response.status == 500
    assert response.headers["Cache-Control"] == "no-store"
    assert SUBJECT not in await response.text()


async def test_signing_out_ends_the_session_and_its_report_ids(signed_in: Client) -> None:
    html = await _report(signed_in)
    link = re.search(r'href="(/report/[^"/]+/report\.csv)"', html)
    assert link
    cookie = signed_in.session.cookie_jar.filter_cookies(signed_in.make_url("/"))
    response = await signed_in.post("/sign-out")
    assert response.status == 200 and "Signed out" in await response.text()
    assert (await signed_in.get("/")).status == 401
    # the old cookie, sent again, no longer opens anything
    stale = {name: morsel.value for name, morsel in cookie.items()}
    assert (await signed_in.get(link.group(1), cookies=stale)).status == 401


async def test_a_slow_count_shows_counting_and_the_next_load_has_the_numbers(
    signed_in: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from xroad_vtj.auditor import app as view_app

    real = view_app._overview_counts

    async def slow(*args: Any) -> Any:
        await asyncio.sleep(0.5)
        return await real(*args)

    monkeypatch.setattr(view_app, "_overview_counts", slow)
    monkeypatch.setattr(view_app, "OVERVIEW_WAIT_SECONDS", 0.05)
    html = await (await signed_in.get("/")).text()
    assert "Counting the last 30 days" in html and "Log integrity" in html
    await asyncio.sleep(0.8)
    html = await (await signed_in.get("/")).text()
    assert '<svg class="chart"' in html


async def test_a_record_forged_without_the_data_key_is_flagged_in_search_and_on_its_page(
    signed_in: Client, view_store: AuditStore
) -> None:
    assert view_store.config.sqlite_path is not None
    forged_id = append_forged_intent(view_store.config.sqlite_path)
    html = await (await signed_in.post("/search", data={"caller": "forger"})).text()
    assert _record_links(html) == [f"/records/{forged_id}"]
    assert "MAC FAILED" in html
    genuine = await (await signed_in.post("/search", data={"caller": "caseapp"})).text()
    assert "MAC FAILED" not in genuine and _record_links(genuine)
    page = await (await signed_in.get(f"/records/{forged_id}")).text()
    assert 'id="record-mac"' in page and "authentication code does not match" in page
