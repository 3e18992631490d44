"""The data permit per caller (products, purpose form) and the audit trail of every refusal, via real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AUDITOR_TOKEN, Running, ServiceFactory, Sim, base_config, sha
from tests.policy.helpers import bearer, call, caller, metric

CASE_REF = "^[A-Z]{2,8}-[0-9]{4}-[0-9]+$"


@pytest.fixture
async def permit(simulator: Sim, start_service: ServiceFactory, tmp_path: Path) -> Running:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"] += [
        caller("p1only", sha("p1-token"), products=["PERUSSANOMA 1"], purpose_pattern=CASE_REF),
        caller("limited", sha("limited-token"), quotas={"per_end_user_per_minute": 1}),
    ]
    running: Running = await start_service(raw)
    return running


async def query(running: Running, token: str, **changes: Any) -> tuple[int, dict[str, Any]]:
    body = {"hetu": "010280-952L", "end_user": "officer.1", "purpose": "SOS-2026-17", **changes}
    status, answer, _ = await call(running, "POST", "/v1/person-queries", headers=bearer(token), json=body)
    return status, answer


async def test_a_product_in_the_permit_is_served_in_any_letter_case(permit: Running) -> None:
    for product in ("PERUSSANOMA 1", "perussanoma 1"):
        status, body = await query(permit, "p1-token", product=product)
        assert (status, body["outcome"]) == (200, "found")


@pytest.mark.parametrize("product", ["PERUSSANOMA 3", "PERUSSANOMA 2", "HUOLTAJA-HUOLLETTAVAT"])
async def test_a_product_outside_the_permit_is_403_product_not_allowed_and_nothing_is_sent(
    permit: Running, simulator: Sim, product: str
) -> None:
    status, body = await query(permit, "p1-token", product=product)
    assert (status, body["code"]) == (403, "product_not_allowed")
    assert simulator.received == []


@pytest.mark.parametrize("purpose", ["free text", "SOS-26-1", "sos-2026-1", "SOS-2026-1 ", "SOS-2026-"])
async def test_a_purpose_not_matching_the_callers_pattern_is_400_invalid_purpose(
    permit: Running, simulator: Sim, purpose: str
) -> None:
    status, body = await query(permit, "p1-token", purpose=purpose)
    assert (status, body["code"]) == (400, "invalid_purpose")
    assert purpose not in body["detail"]
    assert simulator.received == []


async def test_a_caller_without_a_pattern_may_give_any_purpose(permit: Running) -> None:
    status, body = await query(permit, "test-token-caseapp", purpose="tarkistus asiakkaan pyynnöstä")
    assert (status, body["outcome"]) == (200, "found")


async def test_the_purpose_pattern_must_match_the_whole_purpose(permit: Running) -> None:
    status, body = await query(permit, "p1-token", purpose="SOS-2026-17; DROP everything")
    assert (status, body["code"]) == (400, "invalid_purpose")


# Each refusal: how to provoke it, the status and the code. Every one must leave an audit record and a metric.
REFUSALS: dict[str, tuple[str, dict[str, Any], int]] = {
    "invalid_hetu": ("p1-token", {"hetu": "010280-952X"}, 400),
    "invalid_request": ("p1-token", {"purpose": "y" * 201}, 400),
    "invalid_purpose": ("p1-token", {"purpose": "no case reference"}, 400),
    "product_not_allowed": ("p1-token", {"product": "PERUSSANOMA 3"}, 403),
    "forbidden": (AUDITOR_TOKEN, {}, 403),
}


@pytest.mark.parametrize("reason", list(REFUSALS))
async def test_every_refusal_is_audited_with_caller_end_user_purpose_subject_and_reason_and_counted(
    permit: Running, simulator: Sim, reason: str
) -> None:
    token, changes, expected_status = REFUSALS[reason]
    end_user = f"refused.{reason}"[:50]
    before = await metric(permit, "xroad_vtj_policy_refusals_total", reason=reason)
    status, body = await query(permit, token, end_user=end_user, **changes)
    assert (status, body["code"]) == (expected_status, reason)
    assert await metric(permit, "xroad_vtj_policy_refusals_total", reason=reason) == before + 1
    rows = await permit.service.store.search(end_user=end_user)
    assert len(rows) == 1
    (row,) = rows
    sent = {"hetu": "010280-952L", "purpose": "SOS-2026-17", **changes}
    assert row["kind"] == "refusal"
    assert row["outcome"] == "refused"
    assert row["reason"] == reason
    assert row["caller"] == ("auditor" if reason == "forbidden" else "p1only")
    assert row["purpose"] == sent["purpose"]
    assert row["subject"] == sent["hetu"]
    # Without a product the refusal records the default product that would have been used (issue 13 §5).
    assert row["product"] == changes.get("product", permit.config.vtj.default_product)
    assert simulator.received == []


async def test_a_quota_refusal_is_audited_and_counted(permit: Running) -> None:
    status, _ = await query(permit, "limited-token", end_user="quota.user")
    assert status == 200
    status, body = await query(permit, "limited-token", end_user="quota.user", hetu="260991-999R")
    assert (status, body["code"]) == (429, "quota_exceeded")
    assert await metric(permit, "xroad_vtj_policy_refusals_total", reason="quota_exceeded") == 1
    rows = await permit.service.store.search(end_user="quota.user")
    assert [(r["kind"], r["reason"], r["subject"]) for r in rows] == [
        ("query", None, "010280-952L"),
        ("refusal", "quota_exceeded", "260991-999R"),
    ]
    assert rows[1]["caller"] == "limited"


async def test_a_body_over_the_limit_is_413_problem_json_audited_and_counted(
    permit: Running, simulator: Sim
) -> None:
    limit = permit.config.server.max_body_bytes
    data = b'{"hetu": "010280-952L", "end_user": "big", "purpose": "' + b"x" * limit + b'"}'
    status, body, headers = await call(
        permit,
        "POST",
        "/v1/person-queries",
        headers={**bearer("p1-token"), "Content-Type": "application/json"},
        data=data,
    )
    assert (status, body["code"]) == (413, "request_too_large")
    assert headers["Content-Type"].startswith("application/problem+json")
    assert await metric(permit, "xroad_vtj_policy_refusals_total", reason="request_too_large") == 1
    rows = await permit.service.store.search()
    assert [(r["caller"], r["reason"]) for r in rows] == [("p1only", "request_too_large")]
    assert simulator.received == []


async def test_refusals_are_visible_to_the_auditor_through_the_api(permit: Running) -> None:
    await query(permit, "p1-token", end_user="seen.by.auditor", product="PERUSSANOMA 3")
    status, body, _ = await call(
        permit, "GET", "/v1/audit/records?end_user=seen.by.auditor", headers=bearer(AUDITOR_TOKEN)
    )
    assert status == 200
    (record,) = body["records"]
    assert (record["kind"], record["reason"], record["subject"]) == (
        "refusal",
        "product_not_allowed",
        "010280-952L",
    )
