"""Hostile answers from upstream (entity bomb, external entities, deep nesting, 100 MB body) are refused with 502
``invalid_upstream_response``, nothing of them is passed on, no network is touched, and memory stays flat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import TOKEN, Running, Sim, base_config
from tests.policy.helpers import bearer
from tests.policy.processes import start_service_process

HUGE = 100 * 1024 * 1024
MODES: dict[str, dict[str, Any]] = {
    "billion laughs": {"mode": "billion_laughs"},
    "external entity": {"mode": "external_entity"},
    "deep nesting": {"mode": "deep_nesting", "nesting_depth": 100_000},
    "100 MB body, chunked": {"mode": "huge_body", "huge_bytes": HUGE, "huge_declare_length": False},
    "100 MB body, Content-Length": {"mode": "huge_body", "huge_bytes": HUGE, "huge_declare_length": True},
}


@pytest.fixture
async def entity_target() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback HTTP server an external entity may point at; it records every request it gets."""
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="LEAKED-BY-ENTITY")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/entity.dtd", hits
    await runner.cleanup()


@pytest.mark.parametrize("name", list(MODES))
async def test_a_hostile_answer_is_refused_as_invalid_upstream_response_and_audited(
    running: Running, simulator: Sim, name: str
) -> None:
    simulator.knobs(**MODES[name])
    status, body, headers = await running.query()
    assert (status, body["code"]) == (502, "invalid_upstream_response"), body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "person" not in body
    assert body["xroad_message_id"] == simulator.received[-1]
    rows = await running.service.store.search(xroad_id=body["xroad_message_id"])
    assert (rows[0]["outcome"], rows[0]["error_code"]) == (
        "invalid_upstream_response",
        "invalid_upstream_response",
    )
    # the service is unharmed: the next, ordinary answer is served
    simulator.knobs(mode="normal")
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")


@pytest.mark.parametrize("scheme", ["http", "file"])
async def test_external_entities_are_never_fetched_nor_read(
    running: Running, simulator: Sim, entity_target: tuple[str, list[str]], tmp_path: Path, scheme: str
) -> None:
    url, hits = entity_target
    if scheme == "file":
        secret = tmp_path / "secret.txt"
        secret.write_text("LEAKED-BY-ENTITY")
        url = secret.as_uri()
    simulator.knobs(mode="external_entity", entity_url=url)
    status, body, _ = await running.query()
    assert (status, body["code"]) == (502, "invalid_upstream_response")
    assert "LEAKED" not in str(body)
    assert hits == []


async def test_an_answer_just_under_the_size_cap_is_still_read_and_one_over_is_refused(
    running: Running, simulator: Sim
) -> None:
    cap = running.config.xroad.max_response_bytes
    simulator.knobs(mode="huge_body", huge_bytes=cap + 1)
    status, body, _ = await running.query()
    assert (status, body["code"]) == (502, "invalid_upstream_response")
    assert "larger than" in body["detail"]
    # under the cap the answer is read to its end and refused only because it is no SOAP answer
    simulator.knobs(mode="huge_body", huge_bytes=cap // 2)
    status, body, _ = await running.query()
    assert (status, body["code"]) == (502, "invalid_upstream_response")
    assert "larger than" not in body["detail"]


@pytest.mark.slow
async def test_memory_of_the_service_process_stays_flat_under_hostile_answers(
    simulator: Sim, tmp_path: Path
) -> None:
    """A real ``xroad-vtj serve`` process; its peak RSS (VmHWM) may not grow by anything near the 100 MB sent."""
    service = await start_service_process(base_config(tmp_path, simulator.url), tmp_path, "memory")
    try:
        async with aiohttp.ClientSession() as session:

            async def query() -> tuple[int, dict[str, Any]]:
                body = {"hetu": "010280-952L", "end_user": "officer.1", "purpose": "CASE-2026-1"}
                url = f"{service.base}/v1/person-queries"
                async with session.post(url, json=body, headers=bearer(TOKEN)) as r:
                    return r.status, await r.json(content_type=None)

            for _ in range(3):  # warm up: imports, pools, the first audit appends
                assert (await query())[0] == 200
            baseline = service.peak_rss_bytes()
            for name, knobs in MODES.items():
                for _ in range(2):
                    simulator.knobs(**knobs)
                    status, body = await query()
                    assert (status, body["code"]) == (502, "invalid_upstream_response"), name
            simulator.knobs(mode="normal")
            assert (await query())[0] == 200
            growth = service.peak_rss_bytes() - baseline
    finally:
        await service.stop()
    assert growth < 24 * 1024 * 1024, f"peak RSS grew by {growth / 2**20:.1f} MiB"
