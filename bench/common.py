"""What every benchmark shares: ports, the service's configuration, child processes and their resource use.

Each server runs in its own process (started with the same interpreter as the runner), so that the figures
include what a real deployment pays: the HTTP stacks on both sides, the event loop, the audit writer thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TOKEN = "bench-token"
CLIENT = "FI-TEST/MUN/0101263-6/caseapp"
VTJ_SERVICE = "FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1"
VTJ_USERNAME = "demo-user"  # the simulator's published test credentials
VTJ_PASSWORD = "demo-password"
END_USER = "bench.user"
PURPOSE = "BENCH-2026-1"
HETU = "010280-952L"  # a synthetic test person the simulator finds
PRODUCT = "PERUSSANOMA 1"
QUERY = {"hetu": HETU, "product": PRODUCT, "end_user": END_USER, "purpose": PURPOSE}
QUERY_BODY = json.dumps(QUERY, separators=(",", ":"))
QUERY_PATH = "/v1/person-queries"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service_config(
    workdir: Path,
    *,
    port: int,
    simulator_port: int,
    max_in_flight: int = 256,
    pool_size: int = 100,
    log_level: str = "info",
    timeout_seconds: float = 10,
    quotas: dict[str, int | None] | None = None,
    metrics_port: int | None = None,
) -> Path:
    """Write a service configuration into ``workdir``: SQLite audit (durable commits), quotas off.

    Quotas are off because one synthetic end user sends every query of a run (the defaults would refuse
    after 20 a minute), unless ``quotas`` is given (a caller's quotas section: missing keys keep the
    defaults); everything else is the shipped default, including info-level JSON logs.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "vtj-password").write_text(VTJ_PASSWORD + "\n")
    raw: dict[str, Any] = {
        "instance_id": "bench",
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "metrics_port": metrics_port,
            "max_in_flight": max_in_flight,
        },
        "xroad": {
            "security_server_url": f"http://127.0.0.1:{simulator_port}/",
            "client": CLIENT,
            "timeout_seconds": timeout_seconds,
            "pool_size": pool_size,
            # No background allowedMethods calls: the runs count every message the simulator receives.
            "route_probe_seconds": 0,
        },
        "vtj": {
            "service": VTJ_SERVICE,
            "username": VTJ_USERNAME,
            "password_file": "vtj-password",
            "default_product": PRODUCT,
        },
        "audit": {"backend": "sqlite", "sqlite_path": "audit.sqlite3"},
        "logging": {"level": log_level},
        "callers": [
            {
                "name": "bench",
                "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
                "roles": ["query"],
                "products": [PRODUCT],
                "quotas": quotas
                if quotas is not None
                else {
                    "per_end_user_per_minute": None,
                    "per_end_user_per_day": None,
                    "per_caller_per_minute": None,
                    "distinct_subjects_per_end_user_per_day": None,
                },
            }
        ],
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@dataclass
class Child:
    """A server in its own process; its stdout and stderr go to a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float  # time.perf_counter() just before the process was spawned
    ready_seconds: float | None = None  # spawn to first successful readiness probe

    @classmethod
    def spawn(cls, name: str, argv: list[str], log: Path, cwd: Path | None = None) -> Child:
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with log.open("wb") as out:
            started = time.perf_counter()
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd or REPO, env=env)
        return cls(name, process, log, started)

    @property
    def pid(self) -> int:
        return self.process.pid

    def status(self) -> dict[str, int]:
        """VmRSS / VmHWM (peak RSS) in KiB from /proc."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
        return out

    def peak_rss_mb(self) -> float:
        return self.status()["VmHWM"] / 1024

    def rss_mb(self) -> float:
        return self.status()["VmRSS"] / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_http(child: Child, url: str, timeout: float = 20, interval: float = 0.002) -> float:
    """Poll ``url`` until it answers 200; returns seconds since the child was spawned."""
    deadline = time.perf_counter() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback http only
                if response.status == 200:
                    return time.perf_counter() - child.started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        child.check_alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{child.name} not ready at {url} within {timeout} s")
        time.sleep(interval)


def wait_port(child: Child, port: int, timeout: float = 20) -> None:
    deadline = time.perf_counter() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        child.check_alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{child.name} not listening on {port} within {timeout} s")
        time.sleep(0.01)


def start_simulator(workdir: Path, *, latency: float = 0.0) -> tuple[Child, int]:
    port = free_port()
    argv = [PYTHON, "-m", "xroad_vtj", "simulate", "--port", str(port), "--latency", str(latency)]
    child = Child.spawn("simulator", argv, workdir / "simulator.log")
    wait_port(child, port)
    return child, port


def start_service(config: Path, port: int, log: Path, *, timeout: float = 20) -> Child:
    child = Child.spawn("service", [PYTHON, "-m", "xroad_vtj", "serve", "--config", str(config)], log)
    try:
        child.ready_seconds = wait_http(child, f"http://127.0.0.1:{port}/readyz", timeout=timeout)
    except BaseException:
        child.stop()  # never leave a service behind that did not become ready in time
        raise
    return child


def start_baseline(workdir: Path, simulator_port: int, *, uvloop: bool = False) -> tuple[Child, int]:
    port = free_port()
    argv = [
        PYTHON,
        "-m",
        "bench.baseline",
        "--port",
        str(port),
        "--upstream",
        f"http://127.0.0.1:{simulator_port}/",
        *(["--uvloop"] if uvloop else []),
    ]
    child = Child.spawn("baseline", argv, workdir / "baseline.log")
    wait_port(child, port)
    return child, port


def _cpu_jiffies() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def busy_fraction(seconds: float = 1.0) -> float:
    """How busy the machine's CPUs are while none of the benchmark's processes run (0 = idle, 1 = all busy)."""
    total0, idle0 = _cpu_jiffies()
    time.sleep(seconds)
    total1, idle1 = _cpu_jiffies()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kib = int(line.split()[1])
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "memory_gib": f"{mem_kib / 1024 / 1024:.1f}",
        "python": sys.version.split()[0],
        "kernel": os.uname().release,
    }
