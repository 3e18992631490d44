"""``xroad-vtj demo``: the simulator and the service in one process, with embedded defaults.

It writes its configuration to ``<workdir>/config.yaml`` (so that it can be read and reused with ``serve``),
runs one example query, prints it and a ``curl`` command, and serves until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
from pathlib import Path

import aiohttp
import yaml

from xroad_vtj.api.server import Service
from xroad_vtj.config import load_config
from xroad_vtj.errors import XRoadVtjError
from xroad_vtj.logging import configure_logging
from xroad_vtj.simulator.app import create_simulator_app
from xroad_vtj.simulator.run import RunningSimulator

DEMO_TOKEN = "demo-token"  # noqa: S105 - a published demo credential for the local simulator only
DEMO_AUDITOR_TOKEN = "demo-auditor-token"  # noqa: S105
EXAMPLE = {"hetu": "010280-952L", "end_user": "demo.user@example.fi", "purpose": "DEMO-2026-1"}


class DemoPortInUse(XRoadVtjError):
    code = "port_in_use"
    title = "Port in use"


def demo_ports(port: int) -> dict[str, int]:
    """The three ports the demo listens on, by what they are for (as the error and the README name them)."""
    return {
        "the API, --port": port,
        "the simulated security server, --port + 1": port + 1,
        "the metrics, --port + 2": port + 2,
    }


def check_ports_free(port: int, host: str = "127.0.0.1") -> None:
    """Refuse before starting anything when one of the demo's ports is taken, naming that port and its use."""
    if not 1 <= port <= 65533:
        raise DemoPortInUse("--port must be between 1 and 65533 (the demo also uses the next two ports)")
    for use, number in demo_ports(port).items():
        with socket.socket() as probe:
            # As asyncio binds: SO_REUSEADDR, so a port in TIME_WAIT counts as free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, number))
            except OSError:
                raise DemoPortInUse(
                    f"port {number} ({use}) is in use on {host}: start the demo with another --port "
                    f"(it uses --port, --port + 1 and --port + 2)"
                ) from None


def demo_config(port: int, simulator_port: int) -> dict[str, object]:
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    return {
        "instance_id": "demo",
        "server": {"host": "127.0.0.1", "port": port, "metrics_port": port + 2},
        "xroad": {
            "security_server_url": f"http://127.0.0.1:{simulator_port}/",
            "client": "FI-TEST/MUN/0101263-6/caseapp",
            "timeout_seconds": 10,
        },
        "vtj": {
            "service": "FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1",
            "username": "demo-user",
            "password_file": "vtj-password",
            "default_product": "PERUSSANOMA 1",
        },
        "audit": {"backend": "sqlite", "sqlite_path": "audit.sqlite3"},
        "callers": [
            {
                "name": "demo-app",
                "token_sha256": digest(DEMO_TOKEN),
                "roles": ["query"],
                "products": ["PERUSSANOMA 1", "PERUSSANOMA 3"],
            },
            {
                "name": "demo-auditor",
                "token_sha256": digest(DEMO_AUDITOR_TOKEN),
                "roles": ["auditor", "operator"],
            },
        ],
    }


def _write_demo_files(workdir: Path, port: int) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    password = workdir / "vtj-password"
    fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a secret: the owner's alone
    with os.fdopen(fd, "w") as f:
        f.write("demo-password\n")
    password.chmod(0o600)  # a file left by an older demo keeps its mode through O_CREAT
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(demo_config(port, port + 1), sort_keys=False))
    return config_path


async def run_demo(workdir: Path, *, port: int = 8080, example_only: bool = False) -> int:
    check_ports_free(port)
    config_path = _write_demo_files(workdir, port)
    config = load_config(config_path, environ={})
    configure_logging("warning")

    simulator = RunningSimulator(create_simulator_app())
    service = Service(config)
    try:
        await simulator.start("127.0.0.1", port + 1)
        await service.start()
    except BaseException:
        await service.stop()
        await simulator.stop()
        raise
    url = f"http://127.0.0.1:{service.port}/v1/person-queries"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=EXAMPLE, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}) as response,
        ):
            answer = await response.json(content_type=None)
        print(f"Example query -> HTTP {response.status}")
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        print()
        if example_only:
            return 0 if response.status == 200 else 1
        print(
            f"Service: http://127.0.0.1:{service.port}/  (simulated security server on port {simulator.port},"
        )
        print(f"metrics on http://127.0.0.1:{service.metrics_port}/metrics; configuration in {config_path})")
        print("Try:")
        print(
            f"  curl -s {url} -H 'Authorization: Bearer {DEMO_TOKEN}' -H 'Content-Type: application/json' \\\n"
            f"    -d '{json.dumps(EXAMPLE)}'"
        )
        print(
            f"  curl -s 'http://127.0.0.1:{service.port}/v1/audit/records?xroad_id={answer.get('xroad_message_id')}'"
            f" -H 'Authorization: Bearer {DEMO_AUDITOR_TOKEN}'"
        )
        print(
            "Test persons: 010280-952L found, 260991-999R turvakielto, 020365-999P deceased, 010469-999W "
            "passivated, 311211A9527 under 15, any other valid hetu: not found."
        )
        print("Serving until Ctrl-C.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return 0
    finally:
        await service.drain()
        await service.stop()
        await simulator.stop()
