"""`xroad-vtj serve` on a port in use: one line on stderr, nothing left open."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.helm.chart import EXAMPLE_CONFIG


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
