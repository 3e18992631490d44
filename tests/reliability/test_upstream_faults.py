"""Faults of the security server, injected for real over HTTP: what the caller gets, what the audit says.

Each fault hits exactly one query (``count=1``); the next query must be served normally. Only a refused
connection (nothing written) is retried, once; every other fault is answered and audited as it happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Running, ServiceFactory, Sim, base_config
from tests.reliability.conftest import audit_of, free_port, record_posts
from xroad_vtj.simulator.app import FAULTS, create_simulator_app
from xroad_vtj.simulator.run import RunningSimulator

# knobs → (HTTP status, problem code, audit outcome). outcome_unknown: the query may have been served.
BROKEN_ANSWERS: dict[str, tuple[dict[str, Any], int, str, str]] = {
    "reset after the request was sent": (
        {"mode": "reset_before_response"},
        502,
        "outcome_unknown",
        "outcome_unknown",
    ),
    "reset in the middle of the response": (
        {"mode": "reset_mid_response"},
        502,
        "outcome_unknown",
        "outcome_unknown",
    ),
    "answer slower than the deadline": ({"latency_seconds": 2.0}, 504, "upstream_timeout", "outcome_unknown"),
    "headers then nothing": ({"mode": "stall"}, 504, "upstream_timeout", "outcome_unknown"),
    "malformed XML": (
        {"mode": "malformed_xml"},
        502,
        "invalid_upstream_response",
        "invalid_upstream_response",
    ),
    "non-SOAP body with HTTP 500": (
        {"mode": "non_soap_500"},
        502,
        "invalid_upstream_response",
        "invalid_upstream_response",
    ),
    "non-SOAP body with HTTP 502": (
        {"mode": "non_soap_502"},
        502,
        "invalid_upstream_response",
        "invalid_upstream_response",
    ),
    "wrong requestHash": (
        {"mode": "wrong_request_hash"},
        502,
        "request_hash_mismatch",
        "request_hash_mismatch",
    ),
    "missing requestHash": (
        {"mode": "missing_request_hash"},
        502,
        "request_hash_mismatch",
        "request_hash_mismatch",
    ),
    "another message id echoed": (
        {"mode": "wrong_message_id"},
        502,
        "inconsistent_response",
        "inconsistent_response",
    ),
    "body larger than the cap": (
        {"mode": "oversized"},
        502,
        "invalid_upstream_response",
        "invalid_upstream_response",
    ),
}

# Who is at fault, written out by hand per simulator fault name (not derived from the classifier under test).
FAULT_FAMILIES = {
    "network_error": "our_security_server",
    "ssl_authentication_failed": "our_security_server",
    "unknown_member": "our_security_server",
    "io_error": "provider_security_server",
    "unknown_service": "provider_security_server",
    "access_denied": "provider_security_server",
    "service_failed": "provider_service",
    "invalid_xml": "our_request",
    "invalid_soap": "our_request",
    "missing_header_field": "our_request",
    "invalid_protocol_version": "our_request",
    "inconsistent_headers": "our_request",
    "invalid_http_method": "our_request",
    "invalid_content_type": "our_request",
    "provider_custom": "provider_service",
}


async def assert_next_query_is_served(running: Running, simulator: Sim) -> None:
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")
    assert body["xroad_message_id"] == simulator.received[-1]


def test_every_simulator_fault_has_an_expected_family() -> None:
    assert set(FAULT_FAMILIES) == set(FAULTS)


@pytest.mark.parametrize("fault", list(BROKEN_ANSWERS))
async def test_a_broken_answer_is_answered_once_audited_as_it_happened_and_the_service_keeps_serving(
    fast: Running, simulator: Sim, fault: str
) -> None:
    knobs, status, code, outcome = BROKEN_ANSWERS[fault]
    posts = record_posts(fast)
    simulator.knobs(count=1, **knobs)

    got, body, _ = await fast.query()

    assert (got, body["code"]) == (status, code)
    assert "person" not in body
    (sent_id,) = simulator.received  # reached the security server exactly once: no retry
    assert len(posts) == 1
    assert body["xroad_message_id"] == sent_id
    record = await audit_of(fast, sent_id)
    assert record["audit_id"] == body["audit_id"]
    assert record["outcome"] == outcome
    assert (record["error_code"], record["http_status"]) == (code, status)
    assert record["completed_at"] is not None
    assert record["data_categories"] == []
    simulator.knobs(latency_seconds=0.0)  # latency is not counted by ``count``
    await assert_next_query_is_served(fast, simulator)


async def test_a_wrong_request_hash_is_kept_in_the_audit_for_the_investigation(
    fast: Running, simulator: Sim
) -> None:
    simulator.knobs(mode="wrong_request_hash", count=1)
    _, body, _ = await fast.query()
    record = await audit_of(fast, body["xroad_message_id"])
    assert record["received_request_hash"]
    assert record["received_request_hash"] != record["request_sha512"]


@pytest.mark.parametrize("style", ["legacy", "modern"])
@pytest.mark.parametrize("name", list(FAULT_FAMILIES))
async def test_a_soap_fault_of_every_family_in_both_spellings_is_a_502_with_the_fault_audited(
    fast: Running, simulator: Sim, name: str, style: str
) -> None:
    legacy, modern, text = FAULTS[name]
    simulator.knobs(mode="fault", fault=name, fault_style=style, count=1)

    status, body, _ = await fast.query()

    spelled = legacy if style == "legacy" else modern
    assert (status, body["code"]) == (502, "upstream_fault")
    assert (body["fault_code"], body["fault_family"]) == (spelled, FAULT_FAMILIES[name])
    assert body["fault_string"] == text
    assert body["fault_detail"]  # X-Road's error id, the handle for the security server's logs
    assert "person" not in body
    (sent_id,) = simulator.received
    record = await audit_of(fast, sent_id)
    assert (record["outcome"], record["error_code"], record["http_status"]) == (
        "upstream_fault",
        "upstream_fault",
        502,
    )
    assert (record["fault_code"], record["fault_detail"], record["fault_family"]) == (
        spelled,
        body["fault_detail"],
        FAULT_FAMILIES[name],
    )
    await assert_next_query_is_served(fast, simulator)


async def test_a_refused_connection_is_retried_exactly_once_then_audited_as_upstream_unavailable(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    port = free_port()
    running: Running = await start_service(base_config(tmp_path, f"http://127.0.0.1:{port}/"))
    posts = record_posts(running)

    status, body, _ = await running.query()

    assert (status, body["code"]) == (502, "upstream_unavailable")
    assert len(posts) == 2
    assert posts[0] == posts[1]  # the same bytes, the same message id: one query, not two
    record = await audit_of(running, body["xroad_message_id"])
    assert (record["outcome"], record["error_code"], record["http_status"]) == (
        "upstream_unavailable",
        "upstream_unavailable",
        502,
    )

    simulator = RunningSimulator(create_simulator_app())
    await simulator.start("127.0.0.1", port)
    try:
        status, body, _ = await running.query()
        assert (status, body["outcome"]) == (200, "found")
    finally:
        await simulator.stop()


async def test_when_the_security_server_comes_up_between_the_two_tries_the_retry_is_served(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    port = free_port()
    running: Running = await start_service(base_config(tmp_path, f"http://127.0.0.1:{port}/"))
    transport = running.service.transport
    real_post = transport.post
    app = create_simulator_app()
    simulator = RunningSimulator(app)
    tries: list[bytes] = []

    async def post(body: bytes, *, max_bytes: int | None = None) -> Any:
        tries.append(body)
        try:
            return await real_post(body, max_bytes=max_bytes)
        finally:
            if len(tries) == 1:  # the first try was refused; the security server comes up now
                await simulator.start("127.0.0.1", port)

    transport.post = post  # type: ignore[method-assign]
    try:
        status, body, _ = await running.query()
        from xroad_vtj.simulator.app import STATE

        assert (status, body["outcome"]) == (200, "found")
        assert len(tries) == 2
        assert app[STATE].received == [body["xroad_message_id"]]
        record = await audit_of(running, body["xroad_message_id"])
        assert record["outcome"] == "found"
    finally:
        await simulator.stop()
