"""What a new user meets first: `serve` on a port in use, the simulator's VTJ credentials, what `check` checks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import Sim, base_config
from tests.helm.chart import EXAMPLE_CONFIG
from tests.test_check import check, write


def test_serve_on_a_port_in_use_says_so_in_one_line_and_leaves_no_session_unclosed(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(EXAMPLE_CONFIG, config)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "XROAD_VTJ__VTJ__PASSWORD": "x",
            "XROAD_VTJ__SERVER__PORT": str(port),
            "XROAD_VTJ__SERVER__METRICS_PORT": "null",
            "XROAD_VTJ__LOGGING__LEVEL": "error",
        }
        done = subprocess.run(
            [sys.executable, "-m", "xroad_vtj", "serve", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode == 1
    # Log lines are JSON; the error is the one plain line, and it names the port.
    plain = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert len(plain) == 1, done.stderr
    assert plain[0].startswith("xroad-vtj: ") and str(port) in plain[0]
    assert "Unclosed" not in done.stderr


def test_the_simulator_says_which_vtj_credentials_it_accepts(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("s3cret\n")
    command = [sys.executable, "-m", "xroad_vtj", "simulate", "--port", "0", "--vtj-username", "acme-vtj"]
    with subprocess.Popen(
        [*command, "--vtj-password-file", str(password)],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline(), process.stdout.readline()]
        finally:
            process.terminate()
    assert lines[0].startswith("simulator listening on http://127.0.0.1:")
    assert "vtj.username 'acme-vtj'" in lines[1] and "'s3cret'" in lines[1]


def test_the_example_configuration_uses_the_simulators_vtj_username() -> None:
    import yaml

    assert yaml.safe_load(EXAMPLE_CONFIG.read_text())["vtj"]["username"] == "demo-user"


async def test_check_says_that_it_does_not_test_the_vtj_credentials(simulator: Sim, tmp_path: Path) -> None:
    raw = base_config(tmp_path, simulator.url)
    raw["vtj"]["username"] = "not-what-vtj-knows"
    code, report = await check(write(tmp_path, raw))
    assert code == 0
    assert "vtj.username and the VTJ password are not checked here" in report
    assert report.index("not checked") < report.index("all checks passed")
