"""Running the simulator as its own process (``xroad-vtj simulate``) or inside another (demo, tests)."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from xroad_vtj.errors import ConfigError
from xroad_vtj.simulator.app import Knobs, create_simulator_app, simulator_ssl_context


class RunningSimulator:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        self.port = 0

    async def start(self, host: str, port: int, ssl_context: object = None) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, ssl_context=ssl_context, backlog=2048)  # type: ignore[arg-type]
        await site.start()
        for address in self.runner.addresses:
            if isinstance(address, tuple):
                self.port = int(address[1])
                break

    async def stop(self) -> None:
        await self.runner.cleanup()


async def run_simulator(
    host: str,
    port: int,
    *,
    latency: float = 0.0,
    fault_style: str = "modern",
    tls_cert: str | None = None,
    tls_key: str | None = None,
    client_ca: str | None = None,
    vtj_username: str = "demo-user",
    vtj_password: str = "demo-password",  # noqa: S107 - the simulator's published test credential
    route: str = "xroad",
) -> None:
    if route == "direct" and not (tls_cert and tls_key):
        # DVV's direct service is HTTPS only, and so is the client's configuration for it.
        raise ConfigError("the direct route needs --tls-cert and --tls-key")
    app = create_simulator_app(
        username=vtj_username,
        password=vtj_password,
        knobs=Knobs(latency_seconds=latency, fault_style=fault_style),
        route=route,
    )
    context = (
        simulator_ssl_context(tls_cert, tls_key, client_ca, require_client_cert=route == "direct")
        if tls_cert and tls_key
        else None
    )
    simulator = RunningSimulator(app)
    await simulator.start(host, port, context)
    scheme = "https" if context else "http"
    print(f"simulator listening on {scheme}://{host}:{simulator.port}/ ({route} route)", flush=True)
    # Any other pair is answered as VTJ does (return code 0004 / 0003, upstream_rejected): say which it wants.
    print(
        f"simulator accepts the VTJ credentials vtj.username {vtj_username!r} and password {vtj_password!r}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await simulator.stop()
