"""`xroad-vtj check` against the simulator: success, wrong TLS, disallowed service, unreachable server."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import trustme
import yaml

from tests.conftest import Sim, base_config
from xroad_vtj.check import run_check


def write(tmp_path: Path, raw: dict[str, Any]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


async def check(path: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_check(path, out)
    return code, out.getvalue()


async def test_check_passes_when_the_vtj_service_is_allowed(simulator: Sim, tmp_path: Path) -> None:
    code, report = await check(write(tmp_path, base_config(tmp_path, simulator.url)))
    assert code == 0, report
    assert "allowedMethods" in report
    assert report.strip().endswith("all checks passed")


async def test_check_fails_when_the_service_is_not_allowed(simulator: Sim, tmp_path: Path) -> None:
    simulator.state.allowed_services = ()
    code, report = await check(write(tmp_path, base_config(tmp_path, simulator.url)))
    assert code == 1
    assert "may not call" in report and "what to do" in report


async def test_check_fails_when_the_security_server_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, report = await check(write(tmp_path, base_config(tmp_path, f"http://127.0.0.1:{port}/")))
    assert code == 1
    assert "cannot connect" in report


async def test_check_fails_on_an_untrusted_security_server_certificate(
    tmp_path: Path, ca: trustme.CA
) -> None:
    from xroad_vtj.simulator.app import create_simulator_app, simulator_ssl_context
    from xroad_vtj.simulator.run import RunningSimulator

    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "ss.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "ss.key"))
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "wrong-ca.pem"))
    running = RunningSimulator(create_simulator_app())
    await running.start(
        "127.0.0.1", 0, simulator_ssl_context(str(tmp_path / "ss.pem"), str(tmp_path / "ss.key"), None)
    )
    try:
        url = f"https://127.0.0.1:{running.port}/"
        raw = base_config(
            tmp_path,
            url,
            xroad={
                "security_server_url": url,
                "client": "FI-TEST/MUN/0101263-6/caseapp",
                "tls": {"ca_file": str(tmp_path / "wrong-ca.pem")},
            },
        )
        code, report = await check(write(tmp_path, raw))
    finally:
        await running.stop()
    assert code == 1
    assert "FAIL" in report


async def test_check_reports_an_invalid_configuration_by_key(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "http://127.0.0.1:1/", server={"bogus": 1})
    code, report = await check(write(tmp_path, raw))
    assert code == 2
    assert "server.bogus" in report
