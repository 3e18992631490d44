"""Real service processes for the crash, shutdown and disk tests: ``python -m xroad_vtj serve --config FILE``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

# Bounds for waiting on a process: generous, so a slow CI machine does not fail, yet a hang does.
START_GIVE_UP = 30.0


def write_config(raw: dict[str, Any], path: Path) -> Path:
    raw = {**raw, "logging": {"level": "info"}}
    path.write_text(yaml.safe_dump(raw))
    return path


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XROAD_VTJ__")}
    env["PYTHONPATH"] = str(REPO)
    return env


@dataclass
class ServiceProcess:
    """One ``serve`` process; its JSON log lines (stderr) are collected as they come."""

    proc: asyncio.subprocess.Process
    port: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    async def wait(self, give_up: float) -> int:
        async with asyncio.timeout(give_up):
            code = await self.proc.wait()
        if self._reader is not None:
            await self._reader
        return code

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.wait(START_GIVE_UP)


async def start_service_process(config_file: Path) -> ServiceProcess:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "xroad_vtj",
        "serve",
        "--config",
        str(config_file),
        cwd=REPO,
        env=child_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    service = ServiceProcess(proc)
    started = asyncio.get_running_loop().create_future()

    async def read_log() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "unparsed", "line": line.decode(errors="replace")}
            service.events.append(event)
            if event.get("event") == "service_started" and not started.done():
                started.set_result(int(event["port"]))
        if not started.done():
            started.set_exception(RuntimeError(f"service exited: {service.events[-5:]}"))

    service._reader = asyncio.create_task(read_log())
    try:
        async with asyncio.timeout(START_GIVE_UP):
            service.port = await started
    except BaseException:
        await service.stop()
        raise
    return service


async def cli(*args: str) -> tuple[int, str, str]:
    """``xroad-vtj …`` as its own process: exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "xroad_vtj",
        *args,
        cwd=REPO,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(START_GIVE_UP * 2):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")
