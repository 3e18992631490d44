"""Who may call what: every endpoint by {no auth, wrong token, malformed header, wrong role}, through real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import (
    AUDITOR_TOKEN,
    OPERATOR_TOKEN,
    TOKEN,
    Running,
    ServiceFactory,
    Sim,
    base_config,
    sha,
)
from tests.policy.helpers import assert_schema, bearer, call, caller, metric

# (method, path, the role it needs, a token of a caller without that role)
ENDPOINTS = [
    ("POST", "/v1/person-queries", "query", AUDITOR_TOKEN),
    ("GET", "/v1/audit/records", "auditor", TOKEN),
    ("POST", "/v1/audit/search", "auditor", TOKEN),
    ("GET", "/v1/audit/verify", "auditor", OPERATOR_TOKEN),
    ("GET", "/v1/diagnostics", "operator", TOKEN),
]
# A body the endpoint accepts, where the default (a person query) is not one.
BODY_FOR = {"/v1/audit/search": {"end_user": "tester@example.fi"}}
RIGHT_TOKEN = {"query": TOKEN, "auditor": AUDITOR_TOKEN, "operator": OPERATOR_TOKEN}
ENDPOINT_IDS = [f"{m} {p}" for m, p, _, _ in ENDPOINTS]

UNAUTHENTICATED_HEADERS = {
    "no Authorization header": {},
    "unknown bearer token": bearer("not-a-registered-token"),
    "the token's hash sent as the token": bearer(sha(TOKEN)),
    "empty bearer token": {"Authorization": "Bearer "},
    "basic scheme": {"Authorization": "Basic dGVzdDp0ZXN0"},
    "scheme only": {"Authorization": "Bearer"},
    "token without scheme": {"Authorization": TOKEN},
}


def assert_problem(status: int, body: dict[str, object], headers: object, expected: int, code: str) -> None:
    assert (status, body["code"], body["status"]) == (expected, code, expected)
    assert headers["Content-Type"].startswith("application/problem+json")  # type: ignore[index]
    assert body["type"] == f"urn:xroad-vtj:problem:{code}"
    assert_schema("Problem", body)


@pytest.mark.parametrize(("method", "path", "role", "wrong"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("case", list(UNAUTHENTICATED_HEADERS))
async def test_every_protected_endpoint_answers_401_without_a_valid_credential(
    running: Running, simulator: Sim, method: str, path: str, role: str, wrong: str, case: str
) -> None:
    status, body, headers = await call(running, method, path, headers=UNAUTHENTICATED_HEADERS[case])
    assert_problem(status, body, headers, 401, "unauthenticated")
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert simulator.received == []


@pytest.mark.parametrize(("method", "path", "role", "wrong"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_every_protected_endpoint_answers_403_forbidden_to_a_caller_without_its_role(
    running: Running, simulator: Sim, method: str, path: str, role: str, wrong: str
) -> None:
    status, body, headers = await call(running, method, path, headers=bearer(wrong))
    assert_problem(status, body, headers, 403, "forbidden")
    assert role in str(body["detail"])
    assert simulator.received == []


@pytest.mark.parametrize(("method", "path", "role", "wrong"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_every_protected_endpoint_serves_a_caller_with_its_role(
    running: Running, method: str, path: str, role: str, wrong: str
) -> None:
    status, body, _ = await call(
        running, method, path, headers=bearer(RIGHT_TOKEN[role]), json=BODY_FOR.get(path)
    )
    assert status == 200, body


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
async def test_health_endpoints_need_no_authentication(running: Running, path: str) -> None:
    status, _, _ = await call(running, "GET", path)
    assert status == 200


async def test_the_metrics_port_needs_no_authentication(running: Running) -> None:
    async with running.session.get(f"http://127.0.0.1:{running.service.metrics_port}/metrics") as r:
        assert r.status == 200
        assert "xroad_vtj_policy_refusals_total" in await r.text()


async def test_a_caller_without_roles_may_query_and_nothing_else(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"] = [caller("legacy", sha("legacy-token"))]
    assert "roles" not in raw["callers"][0]
    running: Running = await start_service(raw)
    assert running.config.callers[0].roles == frozenset({"query"})
    status, body, _ = await call(running, "POST", "/v1/person-queries", headers=bearer("legacy-token"))
    assert (status, body["outcome"]) == (200, "found")
    for path in ("/v1/audit/records", "/v1/audit/verify", "/v1/diagnostics"):
        status, body, _ = await call(running, "GET", path, headers=bearer("legacy-token"))
        assert (status, body["code"]) == (403, "forbidden")


async def test_a_caller_with_several_roles_may_use_each(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"] = [caller("all", sha("all-token"), roles=["query", "auditor", "operator"])]
    running: Running = await start_service(raw)
    for method, path, _, _ in ENDPOINTS:
        status, body, _ = await call(
            running, method, path, headers=bearer("all-token"), json=BODY_FOR.get(path)
        )
        assert status == 200, (path, body)


async def test_unauthenticated_query_attempts_are_counted_but_not_audited(running: Running) -> None:
    before = await metric(running, "xroad_vtj_policy_refusals_total", reason="unauthenticated")
    await call(running, "POST", "/v1/person-queries", headers=bearer("guess"))
    await call(running, "POST", "/v1/person-queries")
    after = await metric(running, "xroad_vtj_policy_refusals_total", reason="unauthenticated")
    assert after - before == 2
    # An anonymous client must not be able to write into the audit trail.
    assert await running.service.store.search(end_user="tester@example.fi") == []


async def test_the_readme_token_recipe_makes_a_hash_file_the_service_accepts(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    token = "b5c7e0d1" * 8  # what `openssl rand -hex 32` gives
    hash_file = tmp_path / "caseapp.token.sha256"
    recipe = f"printf %s {token} | sha256sum | cut -d' ' -f1 > {hash_file}"
    shell = await asyncio.create_subprocess_exec("sh", "-c", recipe)
    assert await shell.wait() == 0
    raw = base_config(tmp_path, simulator.url)
    entry = caller("readme", "")
    del entry["token_sha256"]
    raw["callers"] = [{**entry, "token_sha256_file": str(hash_file)}]
    running: Running = await start_service(raw)
    assert running.config.warnings == ()
    status, body, _ = await call(running, "POST", "/v1/person-queries", headers=bearer(token))
    assert (status, body["outcome"]) == (200, "found")
