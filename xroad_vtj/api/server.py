"""Running the service: listeners, the metrics port, signals and graceful shutdown.

On SIGTERM readiness fails at once and new queries get 503; queries in flight get
``server.shutdown_grace_seconds`` to finish; then the listeners close and the audit store writes its final
checkpoint.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from xroad_vtj.api.app import STATE, create_app
from xroad_vtj.audit.store import open_store
from xroad_vtj.config import Config, ServerTls
from xroad_vtj.logging import get_logger
from xroad_vtj.metrics import Metrics
from xroad_vtj.transport import Transport

log = get_logger("xroad_vtj.server")


def server_ssl_context(tls: ServerTls) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    if tls.client_ca_file is not None:
        context.load_verify_locations(cafile=str(tls.client_ca_file))
        # Optional, so that bearer-token callers need no certificate; certificate callers are matched by policy.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def metrics_app(metrics: Metrics) -> web.Application:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", handler)
    return app


class Service:
    """One running service process (also used in-process by tests and the demo)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        self.store = open_store(config.audit, instance=config.instance_id, metrics=self.metrics)
        self.transport = Transport.for_config(config)
        self.app = create_app(config, self.store, self.transport, self.metrics)
        self._runners: list[web.AppRunner] = []
        self.port: int | None = None
        self.metrics_port: int | None = None

    async def start(self) -> None:
        server = self.config.server
        # aiohttp's keep-alive timer also runs from the moment a connection is accepted and is not reset by
        # incoming bytes: it bounds how long a caller may take to send its headers (or sit idle). Lingering
        # (draining an unread body after an early answer) gets the same bound.
        runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=server.client_timeout_seconds,
            lingering_time=min(10.0, server.client_timeout_seconds),
        )
        await runner.setup()
        self._runners.append(runner)
        ssl_context = server_ssl_context(server.tls) if server.tls else None
        site = web.TCPSite(runner, server.host, server.port, ssl_context=ssl_context, backlog=1024)
        await site.start()
        self.port = _bound_port(runner)
        if server.metrics_port is not None:
            metrics_runner = web.AppRunner(metrics_app(self.metrics), access_log=None, handle_signals=False)
            await metrics_runner.setup()
            self._runners.append(metrics_runner)
            await web.TCPSite(metrics_runner, server.host, server.metrics_port).start()
            self.metrics_port = _bound_port(metrics_runner)
        log.info(
            "service_started",
            port=self.port,
            metrics_port=self.metrics_port,
            instance=self.config.instance_id,
        )

    def begin_shutdown(self) -> None:
        """Fail readiness and refuse new queries from now on (called right in the signal handler)."""
        self.app[STATE].shutting_down = True

    async def drain(self) -> None:
        """Fail readiness, refuse new queries and wait (bounded) for queries in flight."""
        state = self.app[STATE]
        self.begin_shutdown()
        log.info("shutdown_started", in_flight=state.in_flight)
        try:
            async with asyncio.timeout(self.config.server.shutdown_grace_seconds):
                await state.drained().wait()
        except TimeoutError:
            log.warning("shutdown_grace_expired", in_flight=state.in_flight)

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        log.info("service_stopped")


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("listener has no TCP address")


async def run_until_signalled(
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    on_signal: Callable[[], None] | None = None,
) -> None:
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()

    def signalled() -> None:
        if on_signal is not None:
            on_signal()
        stop_event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled)
    await start()
    await stop_event.wait()
    await stop()


# Young-generation threshold of the cyclic garbage collector while serving (Python's default is 700). Under load
# the young generation holds the live objects of every query in flight, so each collection walks all of them (~1 ms
# at 32 in flight); at 700 one ran every ~20 queries. At 7,000 they are ten times rarer and each walks little more:
# the collector's CPU under load fell from ~50 µs per query to a few (docs/performance.md, 2026-12-01). The cyclic
# garbage that waits longer is a few MB at most.
GC_YOUNG_THRESHOLD = 7000


def tune_gc() -> None:
    """After start-up: move what start-up made (modules, configuration, keys, the app) out of the collector's
    sight, so that full collections no longer walk it, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def serve(config: Config) -> None:
    service = Service(config)

    async def start() -> None:
        try:
            await service.start()
        except BaseException:
            # A listener that cannot bind (port in use) fails after the app's start-up opened the upstream
            # session and the audit store: close them, so that the one-line error is all the operator sees.
            await service.stop()
            raise
        tune_gc()

    async def stop() -> None:
        await service.drain()
        await service.stop()

    await run_until_signalled(start, stop, service.begin_shutdown)
