"""Text no store can write (issue 11 §1, the API part): a lone surrogate or a NUL in a request.

A person query holding one is refused with 400 and the refusal is audited with the character replaced by U+FFFD;
an audit search holding one is 400, never 500 or 503. Valid queries beside such requests are unharmed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.conftest import AUDITOR_TOKEN, TOKEN, Running
from xroad_vtj.recordable import recordable_text

SURROGATE = "x\ud800"
NUL = "x\x00y"


async def post_json(running: Running, path: str, text: str, token: str) -> tuple[int, dict[str, Any]]:
    # json.dumps writes a lone surrogate as the escape "\ud800", as any JSON client may.
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with running.session.post(f"{running.base}{path}", data=text.encode(), headers=headers) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize("field", ["end_user", "purpose", "product", "hetu"])
@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["lone-surrogate", "nul"])
async def test_a_query_with_unwritable_text_is_refused_and_the_refusal_is_audited(
    running: Running, field: str, bad: str
) -> None:
    body = {"hetu": "010280-952L", "end_user": "tester.unwritable", "purpose": "CASE-1", field: bad}
    status, answer = await post_json(running, "/v1/person-queries", json.dumps(body), TOKEN)
    assert status == 400, answer
    rows = await running.service.store.search(limit=10)
    refusals = [r for r in rows if r["kind"] == "refusal"]
    assert len(refusals) == 1
    stored = refusals[0]["subject"] if field == "hetu" else refusals[0][field]
    assert stored == recordable_text(bad, 256)
    assert "\ufffd" in stored


async def test_valid_queries_beside_unwritable_refusals_are_all_served(running: Running) -> None:
    bad = json.dumps({"hetu": "010280-952L", "end_user": SURROGATE, "purpose": "CASE-1"})

    async def refused() -> int:
        return (await post_json(running, "/v1/person-queries", bad, TOKEN))[0]

    async def valid() -> int:
        return (await running.query())[0]

    statuses = await asyncio.gather(*[refused() if i % 3 else valid() for i in range(60)])
    assert [s for i, s in enumerate(statuses) if i % 3 == 0] == [200] * 20
    assert [s for i, s in enumerate(statuses) if i % 3] == [400] * 40
    refusals = [r for r in await running.service.store.search(limit=1000) if r["kind"] == "refusal"]
    assert len(refusals) == 40


@pytest.mark.parametrize("field", ["end_user", "xroad_id", "subject"])
@pytest.mark.parametrize("bad", [SURROGATE, NUL, "x\x1by"], ids=["lone-surrogate", "nul", "escape"])
async def test_an_audit_search_with_unwritable_text_is_400(running: Running, field: str, bad: str) -> None:
    status, answer = await post_json(running, "/v1/audit/search", json.dumps({field: bad}), AUDITOR_TOKEN)
    assert (status, answer["code"]) == (400, "invalid_request"), answer
    assert answer["field"] == field


@pytest.mark.parametrize("field", ["end_user", "xroad_id", "subject"])
async def test_an_audit_records_query_string_with_a_nul_is_400(running: Running, field: str) -> None:
    status, answer = await running.get(f"/v1/audit/records?{field}=x%00y", AUDITOR_TOKEN)
    assert (status, answer["code"]) == (400, "invalid_request"), answer


async def test_an_ordinary_audit_search_still_works(running: Running) -> None:
    await running.query()
    status, answer = await post_json(
        running, "/v1/audit/search", json.dumps({"end_user": "tester@example.fi"}), AUDITOR_TOKEN
    )
    assert status == 200 and answer["count"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"from": SURROGATE},
        {"to": NUL},
        {"limit": NUL},
        {"limit": SURROGATE},
        {SURROGATE: "x"},
        {"end_user": ["x\x00"]},
    ],
    ids=["from", "to", "limit-nul", "limit-surrogate", "key", "list"],
)
async def test_any_string_of_an_audit_search_with_unwritable_text_is_400(
    running: Running, body: dict[str, Any]
) -> None:
    status, answer = await post_json(running, "/v1/audit/search", json.dumps(body), AUDITOR_TOKEN)
    assert (status, answer["code"]) == (400, "invalid_request"), answer


@pytest.mark.parametrize("encoded", ["%ED%A0%80", "%00", "%C0%80", "%FF"])
async def test_an_audit_records_query_string_with_odd_bytes_is_400_or_a_search(
    running: Running, encoded: str
) -> None:
    status, answer = await running.get(f"/v1/audit/records?end_user=x{encoded}", AUDITOR_TOKEN)
    assert status in (200, 400), answer
    if status == 400:
        assert answer["code"] == "invalid_request"
