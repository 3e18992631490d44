"""The bulk-use guard: each quota at its limit and one past it, counted from the audit store, via real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Running, ServiceFactory, Sim, base_config, sha
from tests.policy.helpers import bearer, call, caller
from xroad_vtj.config import Quotas

HETUS = ["010280-952L", "260991-999R", "020365-999P", "311211A9527", "010594Y9032"]
OFF = {k: None for k in ("per_end_user_per_minute", "per_end_user_per_day", "per_caller_per_minute")} | {
    "distinct_subjects_per_end_user_per_day": None
}


async def start(simulator: Sim, start_service: ServiceFactory, tmp_path: Path, **quotas: Any) -> Running:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"] = [caller("bulk", sha("bulk-token"), quotas={**OFF, **quotas})]
    running: Running = await start_service(raw)
    return running


async def ask(running: Running, end_user: str, hetu: str = HETUS[0]) -> tuple[int, dict[str, Any], Any]:
    body = {"hetu": hetu, "end_user": end_user, "purpose": "CASE-2026-3"}
    return await call(running, "POST", "/v1/person-queries", headers=bearer("bulk-token"), json=body)


def assert_quota_refusal(answer: tuple[int, dict[str, Any], Any], quota: str, retry_after: int) -> None:
    status, body, headers = answer
    assert (status, body["code"], body["quota"]) == (429, "quota_exceeded", quota)
    assert headers["Content-Type"].startswith("application/problem+json")
    assert int(headers["Retry-After"]) == retry_after


@pytest.mark.parametrize(
    ("quota", "retry_after"), [("per_end_user_per_minute", 60), ("per_end_user_per_day", 3600)]
)
async def test_per_end_user_quota_serves_up_to_the_limit_and_refuses_the_next(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path, quota: str, retry_after: int
) -> None:
    running = await start(simulator, start_service, tmp_path, **{quota: 3})
    for i in range(3):
        status, body, _ = await ask(running, "officer.a", HETUS[i])
        assert status == 200, (i, body)
    assert_quota_refusal(await ask(running, "officer.a", HETUS[3]), quota, retry_after)
    assert len(simulator.received) == 3
    # Another end user of the same caller has a quota of its own.
    assert (await ask(running, "officer.b"))[0] == 200


async def test_per_caller_quota_counts_every_end_user_together(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    running = await start(simulator, start_service, tmp_path, per_caller_per_minute=4)
    for i in range(4):
        assert (await ask(running, f"officer.{i}"))[0] == 200
    assert_quota_refusal(await ask(running, "officer.new"), "per_caller_per_minute", 60)
    assert len(simulator.received) == 4


async def test_distinct_subjects_quota_refuses_a_new_person_but_not_one_already_asked_about(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    running = await start(simulator, start_service, tmp_path, distinct_subjects_per_end_user_per_day=2)
    assert (await ask(running, "officer.a", HETUS[0]))[0] == 200
    assert (await ask(running, "officer.a", HETUS[1]))[0] == 200
    assert_quota_refusal(
        await ask(running, "officer.a", HETUS[2]), "distinct_subjects_per_end_user_per_day", 3600
    )
    for hetu in (HETUS[0], HETUS[1], HETUS[0]):
        assert (await ask(running, "officer.a", hetu))[0] == 200
    assert (await ask(running, "officer.b", HETUS[2]))[0] == 200
    assert len(simulator.received) == 6


async def test_refused_queries_do_not_use_up_the_quota(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    running = await start(simulator, start_service, tmp_path, per_end_user_per_minute=2)
    for _ in range(3):
        status, body, _ = await ask(running, "officer.a", "010280-952X")
        assert (status, body["code"]) == (400, "invalid_hetu")
    assert (await ask(running, "officer.a"))[0] == 200
    assert (await ask(running, "officer.a"))[0] == 200
    assert (await ask(running, "officer.a"))[0] == 429


async def test_queries_that_failed_upstream_still_count(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    running = await start(simulator, start_service, tmp_path, per_end_user_per_minute=2)
    simulator.knobs(mode="fault", fault="service_failed")
    assert (await ask(running, "officer.a"))[0] == 502
    simulator.knobs(mode="normal")
    assert (await ask(running, "officer.a"))[0] == 200
    assert_quota_refusal(await ask(running, "officer.a"), "per_end_user_per_minute", 60)


async def test_a_caller_without_quotas_gets_the_moderate_defaults(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = base_config(tmp_path, simulator.url)
    entry = caller("defaults", sha("bulk-token"))
    del entry["quotas"]
    raw["callers"] = [entry]
    running: Running = await start_service(raw)
    assert running.config.callers[0].quotas == Quotas() == Quotas(20, 300, 1200, 200)
    for i in range(20):
        assert (await ask(running, "officer.a", HETUS[i % len(HETUS)]))[0] == 200, i
    assert_quota_refusal(await ask(running, "officer.a"), "per_end_user_per_minute", 60)


async def test_a_null_quota_is_switched_off(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"] = [caller("unlimited", sha("bulk-token"), quotas={"per_end_user_per_minute": None})]
    running: Running = await start_service(raw)
    quotas = running.config.callers[0].quotas
    assert quotas.per_end_user_per_minute is None
    assert quotas.per_end_user_per_day == 300
    for _ in range(25):
        assert (await ask(running, "officer.a"))[0] == 200


async def test_quotas_survive_a_restart_because_they_are_counted_from_the_store(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    first = await start(simulator, start_service, tmp_path, per_end_user_per_minute=2)
    assert (await ask(first, "officer.a"))[0] == 200
    await first.service.drain()
    await first.service.stop()
    second = await start(simulator, start_service, tmp_path, per_end_user_per_minute=2)
    assert (await ask(second, "officer.a"))[0] == 200
    assert_quota_refusal(await ask(second, "officer.a"), "per_end_user_per_minute", 60)
