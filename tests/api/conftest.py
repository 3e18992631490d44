"""A mutating upstream for the API tests: a proxy between the service and the simulator that can change the
simulator's valid, correctly hashed answer before the service reads it, and keeps every request it passed on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import Running, ServiceFactory, Sim, base_config

Mutation = Callable[[bytes, str], tuple[bytes, str]]


@dataclass
class Proxy:
    url: str
    mutate: Mutation | None = None
    replace_with: bytes | None = None
    seen: list[bytes] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)


@pytest.fixture
async def proxy(simulator: Sim) -> AsyncIterator[Proxy]:
    state = Proxy("")

    async def handler(request: web.Request) -> web.StreamResponse:
        sent = await request.read()
        state.requests.append(sent)
        async with (
            aiohttp.ClientSession() as session,
            session.post(simulator.url, data=sent, headers={"Content-Type": request.content_type}) as r,
        ):
            body, content_type = await r.read(), r.headers.get("Content-Type", "text/xml")
        if state.replace_with is not None:
            body, content_type = state.replace_with, "text/xml; charset=UTF-8"
        if state.mutate is not None:
            body, content_type = state.mutate(body, content_type)
        state.seen.append(body)
        response = web.StreamResponse(status=200)
        response.headers["Content-Type"] = content_type
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body)
        return response

    app = web.Application()
    app.router.add_post("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    yield state
    await runner.cleanup()


@pytest.fixture
async def fuzzed(proxy: Proxy, start_service: ServiceFactory, tmp_path: Path) -> Running:
    raw = base_config(tmp_path, proxy.url)
    result: Running = await start_service(raw)
    return result
