"""The service as a real OS process (``python -m xroad_vtj serve --config …``), for multi-replica and memory tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    process: asyncio.subprocess.Process
    base: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def peak_rss_bytes(self) -> int:
        """VmHWM: the highest resident set size the process has had so far."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc/PID/status")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_service_process(raw: dict[str, Any], workdir: Path, name: str) -> ServiceProcess:
    """Write ``raw`` (with a free port, no metrics port) to ``workdir/name.yaml``, start it, wait for /livez."""
    port = free_port()
    raw = {
        **raw,
        "instance_id": name,
        "server": {**raw.get("server", {}), "port": port, "metrics_port": None},
    }
    config = workdir / f"{name}.yaml"
    config.write_text(yaml.safe_dump(raw))
    log = workdir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XROAD_VTJ__")}
    env["PYTHONPATH"] = str(REPO)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "xroad_vtj",
            "serve",
            "--config",
            str(config),
            stdout=out,
            stderr=out,
            env=env,
        )
    started = ServiceProcess(process, f"http://127.0.0.1:{port}", log)
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if process.returncode is not None:
                raise AssertionError(f"service {name} exited: {log.read_text()[-2000:]}")
            try:
                async with session.get(f"{started.base}/readyz") as r:
                    if r.status == 200:
                        return started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    await started.stop()
    raise AssertionError(f"service {name} did not become ready: {log.read_text()[-2000:]}")
