"""The chart's direct-route release against a real DVV stand-in: the config.yaml and secret files the chart
renders, loaded by the service, reach the simulator's direct service over real TLS with the organisation's
client certificate; `check` proves the route with HaeTuotteenSkeema, and the helm test's own script passes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
import trustme

from tests.conftest import Sim
from tests.helm.chart import CHART_DIR, Manifest, Rendered, load_values, merged, pod_config, render
from xroad_vtj.api.server import Service
from xroad_vtj.check import check_files, check_route
from xroad_vtj.config import Config, parse_config
from xroad_vtj.simulator.app import STATE, create_simulator_app, simulator_ssl_context
from xroad_vtj.simulator.run import RunningSimulator

TOKEN = "test"  # ci/direct-values.yaml holds its SHA-256 for the caller caseapp


@pytest.fixture(autouse=True)
def default_logging() -> None:
    """An earlier in-process CLI test may have pointed logging at a captured stderr that is closed by now."""
    structlog.reset_defaults()


@pytest.fixture
def pki(ca: trustme.CA) -> dict[str, str]:
    """DVV's server certificate and the organisation's client certificate, from one test CA."""
    server = ca.issue_cert("localhost")
    organisation = ca.issue_cert("organisation.example.fi")
    signer = ca.issue_cert("audit-signer.example.fi")
    return {
        "ca": ca.cert_pem.bytes().decode(),
        "server_cert": server.cert_chain_pems[0].bytes().decode(),
        "server_key": server.private_key_pem.bytes().decode(),
        "client_cert": organisation.cert_chain_pems[0].bytes().decode(),
        "client_key": organisation.private_key_pem.bytes().decode(),
        "signing_cert": signer.cert_chain_pems[0].bytes().decode(),
        "signing_key": signer.private_key_pem.bytes().decode(),
    }


@pytest.fixture
async def dvv(pki: dict[str, str], tmp_path: Path) -> AsyncIterator[Sim]:
    """The simulator as DVV's direct service: HTTPS, a client certificate of the test CA required."""
    files = tmp_path / "dvv-server"
    files.mkdir()
    for name in ("ca", "server_cert", "server_key"):
        (files / name).write_text(pki[name])
    app = create_simulator_app(route="direct")
    running = RunningSimulator(app)
    context = simulator_ssl_context(
        str(files / "server_cert"), str(files / "server_key"), str(files / "ca"), require_client_cert=True
    )
    await running.start("127.0.0.1", 0, context)
    yield Sim(f"https://localhost:{running.port}/", running.port, app[STATE])
    await running.stop()


def release(dvv: Sim, pki: dict[str, str], **dvv_tls: Any) -> Rendered:
    """ci/direct-values.yaml with real key material in chart-made secrets and the simulator's URL."""
    values = merged(
        load_values(CHART_DIR / "ci" / "direct-values.yaml"),
        {
            "config": {"vtj": {"username": "demo-user", "direct": {"url": dvv.url}}},
            "secrets": {
                "vtj": {"existingSecret": "", "password": "demo-password"},
                "audit": {
                    "existingSecret": "",
                    "dataKey": base64.b64encode(os.urandom(32)).decode(),
                    "signingKey": pki["signing_key"],
                    "signingCert": pki["signing_cert"],
                },
                "dvvTls": {
                    "tlsCrt": pki["client_cert"],
                    "tlsKey": pki["client_key"],
                    "caCrt": pki["ca"],
                    **dvv_tls,
                },
            },
        },
    )
    return render(values)


def pod(rendered: Rendered, tmp_path: Path) -> Config:
    """The rendered config with the secret files as the pod mounts them, listening on loopback ports."""
    secrets, data = tmp_path / "secrets", tmp_path / "data"
    data.mkdir()
    raw: Manifest = pod_config(rendered, secrets, data)
    for directory in secrets.iterdir():
        directory.chmod(0o750)
        for file in directory.iterdir():
            file.chmod(0o440)  # the chart's defaultMode
    raw["server"].update({"host": "127.0.0.1", "port": 0, "metrics_port": 0})
    raw["instance_id"] = "chart-direct"
    return parse_config(raw, tmp_path, environ={})


async def test_check_proves_the_direct_route_with_the_charts_files(
    dvv: Sim, pki: dict[str, str], tmp_path: Path
) -> None:
    config = pod(release(dvv, pki), tmp_path)
    lines = check_files(config)
    assert any("organisation certificate (direct route)" in line for line in lines)
    answer = await check_route(config)
    assert answer.startswith(f"direct route: {dvv.url} answered HaeTuotteenSkeema")
    assert [op for op in dvv.state.received_operations if "Skeema" not in op] == []  # no allowedMethods
    assert dvv.state.received_operations


async def test_without_dvvs_ca_the_system_bundle_does_not_trust_the_test_server(
    dvv: Sim, pki: dict[str, str], tmp_path: Path
) -> None:
    # Fail closed: no ca.crt means the system CA bundle, which has never heard of this test CA.
    from xroad_vtj.check import Problem

    config = pod(release(dvv, pki, caCrt=""), tmp_path)
    assert config.vtj.direct is not None and config.vtj.direct.tls.ca_file is None
    with pytest.raises(Problem, match="cannot connect to the direct service"):
        await check_route(config)


async def test_the_released_service_is_ready_answers_queries_and_passes_the_helm_test(
    dvv: Sim, pki: dict[str, str], tmp_path: Path
) -> None:
    rendered = release(dvv, pki)
    service = Service(pod(rendered, tmp_path))
    await service.start()
    try:
        base = f"http://127.0.0.1:{service.port}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{base}/v1/person-queries",
                json={"hetu": "010280-952L", "end_user": "tester@example.fi", "purpose": "CASE-2026-1"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as response,
        ):
            assert response.status == 200, await response.text()
        # The helm test pod's own script, pointed at this service instead of the in-cluster name.
        script = rendered.one("Pod")["spec"]["containers"][0]["command"][-1]
        script = script.replace("http://rel-xroad-vtj:8080/readyz", f"{base}/readyz")
        assert f"{base}/readyz" in script
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "readyz: 200"
    finally:
        await service.drain()
        await service.stop()
    # The query went to DVV's direct service, and nothing else did (no route probe on this route).
    assert dvv.state.received_operations == ["TeeHenkilonTunnusKysely"]
