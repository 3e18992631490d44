"""The floor: a raw aiohttp forwarder (``python -m bench.baseline --port N --upstream URL``).

It takes the same JSON request as the service and does the least a forwarder can do: it reads the body,
posts a fixed, pre-built X-Road message with a fresh message id to the security server through one pooled
session, and returns the answer's bytes. No authentication, validation, audit, parsing or verification.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import CLIENT, END_USER, HETU, PRODUCT, PURPOSE, VTJ_PASSWORD, VTJ_SERVICE, VTJ_USERNAME
from xroad_vtj.vtj import build_henkilon_tunnus_kysely
from xroad_vtj.xroad import ClientId, Headers, ServiceId, build_request

_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
HEADERS = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'}


def message_parts() -> tuple[bytes, bytes]:
    """The pre-built message, split around its message id."""
    message = build_request(
        Headers(ClientId.parse(CLIENT), ServiceId.parse(VTJ_SERVICE), _PLACEHOLDER, END_USER, PURPOSE),
        build_henkilon_tunnus_kysely(
            product=PRODUCT, username=VTJ_USERNAME, password=VTJ_PASSWORD, end_user=END_USER, hetu=HETU
        ),
    )
    prefix, suffix = message.split(_PLACEHOLDER.encode())
    return prefix, suffix


SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)


def create_app(upstream: str, pool_size: int = 100) -> web.Application:
    prefix, suffix = message_parts()

    async def forward(request: web.Request) -> web.Response:
        await request.read()
        body = prefix + str(uuid.uuid4()).encode() + suffix
        async with request.app[SESSION].post(upstream, data=body, headers=HEADERS) as reply:
            data = await reply.read()
        return web.Response(body=data, content_type="text/xml")

    async def session(app: web.Application) -> Any:
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=pool_size))
        yield
        await app[SESSION].close()

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_post("/v1/person-queries", forward)
    return app


async def serve(port: int, upstream: str) -> None:
    runner = web.AppRunner(create_app(upstream), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument(
        "--uvloop", action="store_true", help="run on uvloop (an experiment in bench.ablation)"
    )
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(serve(args.port, args.upstream))
    else:
        asyncio.run(serve(args.port, args.upstream))


if __name__ == "__main__":
    main()
