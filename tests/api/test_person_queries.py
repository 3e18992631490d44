"""The person query end to end: real service, real simulator, real SQLite audit store."""

from __future__ import annotations

import re

import pytest

from tests.conftest import AUDITOR_TOKEN, TOKEN, Running, Sim

PERSON_KEYS = {
    "hetu",
    "hetu_active",
    "last_name",
    "first_names",
    "non_disclosure",
    "deceased",
    "death_date",
    "home_municipality",
    "permanent_address",
    "native_language",
}


async def test_found_person_is_answered_with_clean_json_and_the_message_id_sent(
    running: Running, simulator: Sim
) -> None:
    status, body, headers = await running.query()
    assert status == 200
    assert body["outcome"] == "found"
    assert body["return_code"] == "0000"
    assert body["xroad_message_id"] == simulator.received[-1]
    assert body["audit_id"]
    person = body["person"]
    assert set(person) >= PERSON_KEYS
    assert person["hetu"] == "010280-952L"
    assert person["hetu_active"] is True
    assert person["last_name"] == "Testinen"
    assert person["first_names"] == "Aino Maria"
    assert person["deceased"] is False
    assert person["home_municipality"]["code"] == "091"
    assert person["permanent_address"]["postal_code"] == "00100"
    assert person["native_language"]["code"] == "fi"
    assert headers["Content-Type"].startswith("application/json")
    assert headers["X-Request-Id"]


async def test_not_found_arrives_as_body_faultcode_0001(running: Running) -> None:
    status, body, _ = await running.query(hetu="150785-9939")
    assert status == 200
    assert body["outcome"] == "not_found"
    assert body["return_code"] == "0001"
    assert body["person"] is None


async def test_deceased_passivated_and_under_15_map_to_their_outcomes(running: Running) -> None:
    status, body, _ = await running.query(hetu="020365-999P")
    assert (status, body["outcome"], body["return_code"]) == (200, "deceased", "0007")
    status, body, _ = await running.query(hetu="010469-999W")
    assert (status, body["outcome"], body["return_code"]) == (200, "passivated", "0002")
    assert body["new_active_hetu"] == "010469-998V"
    status, body, _ = await running.query(hetu="311211A9527")
    assert (status, body["outcome"], body["return_code"]) == (200, "found", "0018")


async def test_invalid_hetu_is_refused_before_anything_is_sent(running: Running, simulator: Sim) -> None:
    status, body, headers = await running.query(hetu="010280-952X")
    assert status == 400
    assert body["code"] == "invalid_hetu"
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "010280" not in body["detail"]
    assert simulator.received == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"end_user": None}, "invalid_request"),
        ({"purpose": None}, "invalid_request"),
        ({"end_user": "x" * 51}, "invalid_request"),
        ({"purpose": "y" * 201}, "invalid_request"),
        ({"end_user": "bad\nline"}, "invalid_request"),
        ({"extra": 1}, "invalid_request"),
        ({"hetu": 12345}, "invalid_request"),
    ],
)
async def test_bad_input_is_a_400_with_a_stable_code_and_nothing_is_sent(
    running: Running, simulator: Sim, change: dict[str, object], code: str
) -> None:
    status, body, _ = await running.query(**change)
    assert (status, body["code"]) == (400, code)
    assert simulator.received == []


async def test_missing_or_unknown_token_is_401(running: Running, simulator: Sim) -> None:
    status, body, _ = await running.query(token=None)
    assert (status, body["code"]) == (401, "unauthenticated")
    status, body, _ = await running.query(token="not-a-token")
    assert (status, body["code"]) == (401, "unauthenticated")
    assert simulator.received == []


async def test_product_outside_the_callers_permit_is_403(running: Running, simulator: Sim) -> None:
    status, body, _ = await running.query(product="HUOLTAJA-HUOLLETTAVAT")
    assert (status, body["code"]) == (403, "product_not_allowed")
    assert simulator.received == []


async def test_wrong_vtj_password_is_upstream_rejected_with_the_return_code(
    running: Running, simulator: Sim
) -> None:
    simulator.state.password = "another"
    status, body, _ = await running.query()
    assert (status, body["code"], body["return_code"]) == (502, "upstream_rejected", "0003")
    assert body["xroad_message_id"] == simulator.received[-1]
    assert body["audit_id"]


@pytest.mark.parametrize("style", ["legacy", "modern"])
async def test_soap_fault_with_http_200_is_an_upstream_fault_in_either_spelling(
    running: Running, simulator: Sim, style: str
) -> None:
    simulator.knobs(mode="fault", fault="network_error", fault_style=style)
    status, body, _ = await running.query()
    assert status == 502
    assert body["code"] == "upstream_fault"
    expected = "Server.ClientProxy.NetworkError" if style == "legacy" else "server.clientproxy.network_error"
    assert body["fault_code"] == expected
    assert body["fault_detail"]
    assert body["fault_family"] == "our_security_server"


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("wrong_request_hash", 502, "request_hash_mismatch"),
        ("missing_request_hash", 502, "request_hash_mismatch"),
        ("wrong_message_id", 502, "inconsistent_response"),
        ("malformed_xml", 502, "invalid_upstream_response"),
        ("non_soap_502", 502, "invalid_upstream_response"),
    ],
)
async def test_unverifiable_answers_are_never_passed_on(
    running: Running, simulator: Sim, mode: str, status: int, code: str
) -> None:
    simulator.knobs(mode=mode)
    got_status, body, _ = await running.query()
    assert (got_status, body["code"]) == (status, code)
    assert "person" not in body
    assert body["xroad_message_id"] == simulator.received[-1]


async def test_slow_security_server_hits_the_deadline_as_504(
    simulator: Sim, start_service: object, tmp_path: object
) -> None:
    from tests.conftest import base_config

    simulator.knobs(latency_seconds=2.0)
    running: Running = await start_service(  # type: ignore[operator]
        base_config(tmp_path, simulator.url, xroad={"timeout_seconds": 0.3})  # type: ignore[arg-type]
    )
    status, body, _ = await running.query()
    assert (status, body["code"]) == (504, "upstream_timeout")


async def test_every_query_leaves_an_audit_record_with_intent_and_outcome(
    running: Running, simulator: Sim
) -> None:
    _, found, _ = await running.query()
    simulator.knobs(mode="fault", fault="access_denied")
    _, fault, _ = await running.query()
    status, audit = await running.get(
        f"/v1/audit/records?xroad_id={found['xroad_message_id']}", AUDITOR_TOKEN
    )
    assert status == 200
    (record,) = audit["records"]
    assert record["caller"] == "caseapp"
    assert record["end_user"] == "tester@example.fi"
    assert record["purpose"] == "CASE-2026-1"
    assert record["product"] == "PERUSSANOMA 1"
    assert record["subject"] == "010280-952L"
    assert record["outcome"] == "found"
    assert record["requested_at"] and record["completed_at"]
    assert "name" in record["data_categories"]
    rows = await running.service.store.search(xroad_id=fault["xroad_message_id"])
    assert rows[0]["outcome"] == "upstream_fault"
    assert rows[0]["fault_code"] == "server.serverproxy.access_denied"
    assert rows[0]["fault_detail"] == fault["fault_detail"]


async def test_refused_queries_are_audited_as_refused(running: Running) -> None:
    await running.query(hetu="010280-952X", end_user="refused.user")
    rows = await running.service.store.search(end_user="refused.user")
    assert len(rows) == 1
    assert rows[0]["kind"] == "refusal"
    assert "invalid_hetu" in (rows[0]["outcome"] + str(rows[0].get("reason", "")))


async def test_audit_endpoints_need_the_auditor_role(running: Running) -> None:
    status, body = await running.get("/v1/audit/records", TOKEN)
    assert (status, body["code"]) == (403, "forbidden")
    status, body = await running.get("/v1/audit/records")
    assert (status, body["code"]) == (401, "unauthenticated")


async def test_liveness_and_readiness(running: Running) -> None:
    assert (await running.get("/livez"))[0] == 200
    status, body = await running.get("/readyz")
    assert status == 200
    assert body["checks"]["audit_store"] == "ok"


async def test_unknown_route_is_problem_json_404(running: Running) -> None:
    status, body = await running.get("/v1/nothing-here")
    assert (status, body["code"]) == (404, "not_found")


async def test_audit_search_by_post_keeps_the_hetu_out_of_the_url(running: Running) -> None:
    _, found, _ = await running.query()
    async with running.session.post(
        f"{running.base}/v1/audit/search",
        json={"subject": "010280-952L", "from": "2020-01-01"},
        headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"},
    ) as r:
        body = await r.json()
    assert r.status == 200
    assert [row["xroad_message_id"] for row in body["records"]] == [found["xroad_message_id"]]
    async with running.session.post(
        f"{running.base}/v1/audit/search",
        json={"subject": "010280-952L", "limit": 0},
        headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"},
    ) as r:
        assert (r.status, (await r.json())["code"]) == (400, "invalid_request")


async def test_an_answer_about_another_person_is_refused_as_inconsistent(
    running: Running, simulator: Sim
) -> None:
    simulator.knobs(mode="other_person")
    status, body, _ = await running.query()
    assert (status, body["code"]) == (502, "inconsistent_response")
    assert "person" not in body
    rows = await running.service.store.search(xroad_id=body["xroad_message_id"])
    assert rows[0]["outcome"] == "inconsistent_response"


async def test_each_request_gets_its_own_request_id_of_32_hex_digits_unless_the_caller_gave_one(
    running: Running,
) -> None:
    ids = [(await running.query())[2]["X-Request-Id"] for _ in range(3)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert len(set(ids)) == 3
    async with running.session.get(f"{running.base}/livez", headers={"X-Request-Id": "abc-1"}) as r:
        assert r.headers["X-Request-Id"] == "abc-1"
