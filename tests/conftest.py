"""Shared fixtures: a real simulator on loopback, a real service in front of it, real TLS material."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme

from xroad_vtj.api.server import Service
from xroad_vtj.config import Config, parse_config
from xroad_vtj.simulator.app import STATE, SimulatorState, create_simulator_app
from xroad_vtj.simulator.run import RunningSimulator

REPO = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO.parent / "shared" / "reference"

TOKEN = "test-token-caseapp"
AUDITOR_TOKEN = "test-token-auditor"
OPERATOR_TOKEN = "test-token-operator"
CLIENT = "FI-TEST/MUN/0101263-6/caseapp"
VTJ_SERVICE = "FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1"


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reference_dir(*parts: str) -> Path:
    """A folder under ../shared/reference, or skip (never in CI, where it must exist)."""
    path = SHARED_REFERENCE.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip("../shared/reference is not present in this checkout")
    return path


def base_config(tmp_path: Path, simulator_url: str, **sections: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "instance_id": "test",
        "server": {"host": "127.0.0.1", "port": 0, "metrics_port": 0},
        # The route probe off: tests count the messages the simulator received (tests/test_route_probe.py on).
        "xroad": {
            "security_server_url": simulator_url,
            "client": CLIENT,
            "timeout_seconds": 5,
            "route_probe_seconds": 0,
        },
        "vtj": {"service": VTJ_SERVICE, "username": "demo-user", "password_file": str(tmp_path / "pw")},
        "audit": {"backend": "sqlite", "sqlite_path": str(tmp_path / "audit.sqlite3")},
        "callers": [
            {
                "name": "caseapp",
                "token_sha256": sha(TOKEN),
                "products": ["PERUSSANOMA 1", "PERUSSANOMA 3"],
                "quotas": {
                    k: None
                    for k in (
                        "per_end_user_per_minute",
                        "per_end_user_per_day",
                        "per_caller_per_minute",
                        "distinct_subjects_per_end_user_per_day",
                    )
                },
            },
            {"name": "auditor", "token_sha256": sha(AUDITOR_TOKEN), "roles": ["auditor"]},
            {"name": "operator", "token_sha256": sha(OPERATOR_TOKEN), "roles": ["operator"]},
        ],
    }
    (tmp_path / "pw").write_text("demo-password\n")
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return raw


@dataclass
class Sim:
    url: str
    port: int
    state: SimulatorState

    def knobs(self, **changes: Any) -> None:
        self.state.knobs.update(changes)

    @property
    def received(self) -> list[str]:
        return self.state.received


@pytest.fixture
async def simulator() -> AsyncIterator[Sim]:
    app = create_simulator_app()
    running = RunningSimulator(app)
    await running.start("127.0.0.1", 0)
    yield Sim(f"http://127.0.0.1:{running.port}/", running.port, app[STATE])
    await running.stop()


@dataclass
class Running:
    service: Service
    base: str
    session: aiohttp.ClientSession
    config: Config

    async def query(self, token: str | None = TOKEN, **body: Any) -> tuple[int, dict[str, Any], Any]:
        payload = {"hetu": "010280-952L", "end_user": "tester@example.fi", "purpose": "CASE-2026-1"}
        payload.update(body)
        payload = {k: v for k, v in payload.items() if v is not None}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.post(f"{self.base}/v1/person-queries", json=payload, headers=headers) as r:
            return r.status, await r.json(content_type=None), r.headers

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.get(f"{self.base}{path}", headers=headers) as r:
            return r.status, await r.json(content_type=None)


ServiceFactory = Callable[..., Any]


@pytest.fixture
async def start_service(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    started: list[tuple[Service, aiohttp.ClientSession]] = []

    async def start(raw: dict[str, Any], *, scheme: str = "http", ssl: Any = None) -> Running:
        config = parse_config(raw, tmp_path, environ={})
        service = Service(config)
        await service.start()
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl) if ssl is not None else None)
        started.append((service, session))
        return Running(service, f"{scheme}://127.0.0.1:{service.port}", session, config)

    yield start
    for service, session in reversed(started):
        await session.close()
        await service.drain()
        await service.stop()


@pytest.fixture
async def running(simulator: Sim, start_service: ServiceFactory, tmp_path: Path) -> Running:
    result: Running = await start_service(base_config(tmp_path, simulator.url))
    return result


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()
