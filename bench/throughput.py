"""Throughput: the service against the raw forwarding baseline, same simulator, alternated.

Three processes run side by side (simulator, service, baseline) with wrk as the load generator (32
connections, one thread). Each round measures the baseline, then the service, after a short warm-up; the
ratio of each round is service/baseline and the median of the rounds is reported.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    QUERY_BODY,
    QUERY_PATH,
    REPO,
    TOKEN,
    Child,
    free_port,
    service_config,
    start_baseline,
    start_service,
    start_simulator,
)

WRK = shutil.which("wrk") or "/usr/bin/wrk"
LUA = REPO / "bench" / "wrk" / "post.lua"
LUA_END_USERS = REPO / "bench" / "wrk" / "post_end_users.lua"  # 2,000 end users in turn (quotas on)
# the shipped default quotas, except the per-caller one (1,200 a minute would cap a run at 20 req/s)
QUOTAS_ON = {"per_caller_per_minute": None}
CONNECTIONS = 32


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    requests: int
    non_2xx: int
    socket_errors: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None


@dataclass(frozen=True)
class BatchFigures:
    """Group commit in the running service over one measured round, from its /metrics."""

    commits: int
    records: int
    median_bucket: str  # the histogram bucket holding the median commit, e.g. "8-16"

    @property
    def mean(self) -> float:
        return self.records / self.commits if self.commits else 0.0


def scrape_batches(metrics_port: int) -> dict[str, float]:
    """``xroad_vtj_audit_batch_records`` from the service's /metrics: cumulative bucket counts by upper
    bound (``"+Inf"`` included), ``"sum"`` and ``"count"``."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # our own loopback child
        text = response.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "xroad_vtj_audit_batch_records":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                out[sample.labels["le"]] = sample.value
            elif sample.name.endswith("_sum"):
                out["sum"] = sample.value
            elif sample.name.endswith("_count"):
                out["count"] = sample.value
    return out


def batch_figures(before: dict[str, float], after: dict[str, float]) -> BatchFigures:
    """The commits between two scrapes: how many, how many records, and the bucket of the median."""
    commits = int(after.get("count", 0) - before.get("count", 0))
    records = int(after.get("sum", 0) - before.get("sum", 0))
    bounds = sorted((k for k in after if k not in ("sum", "count")), key=lambda k: float(k))
    median_bucket, lower = "none", "0"
    for bound in bounds:
        if after[bound] - before.get(bound, 0) >= commits / 2 and commits:
            median_bucket = f"{lower}-{bound}" if bound != "+Inf" else f"> {lower}"
            break
        lower = bound.removesuffix(".0")
    median_bucket = median_bucket.replace(".0", "")
    return BatchFigures(commits, records, median_bucket)


@dataclass
class ThroughputResult:
    baseline: list[WrkResult] = field(default_factory=list)
    service: list[WrkResult] = field(default_factory=list)
    service_cpu_per_request_ms: list[float] = field(default_factory=list)
    baseline_cpu_per_request_ms: list[float] = field(default_factory=list)
    simulator_cpu_share: list[float] = field(default_factory=list)
    # the service's own histogram xroad_vtj_audit_batch_records over each measured round
    batches: list[BatchFigures] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [
            s.requests_per_second / b.requests_per_second
            for s, b in zip(self.service, self.baseline, strict=True)
            if b.requests_per_second
        ]

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 0.0

    @property
    def errors(self) -> int:
        return sum(r.non_2xx + r.socket_errors for r in self.service + self.baseline)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rps is None or total is None:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))$", output, re.MULTILINE))

    def pct(key: str) -> float | None:
        raw = percentiles.get(key)
        if raw is None:
            return None
        m = re.fullmatch(r"([\d.]+)(us|ms|s)", raw)
        return _ms(m.group(1), m.group(2)) if m else None

    return WrkResult(
        requests_per_second=float(rps.group(1)),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(x) for x in socket.groups()) if socket else 0,
        latency_p50_ms=pct("50"),
        latency_p99_ms=pct("99"),
    )


def run_wrk(port: int, seconds: float, connections: int = CONNECTIONS, script: Path = LUA) -> WrkResult:
    argv = [
        WRK,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{QUERY_PATH}",
    ]
    env = dict(os.environ, BENCH_TOKEN=TOKEN, BENCH_BODY=QUERY_BODY)
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    return parse_wrk(done.stdout)


def _measure(
    port: int, seconds: float, target: Child, simulator: Child, script: Path = LUA
) -> tuple[WrkResult, float, float]:
    before, sim_before = target.cpu_seconds(), simulator.cpu_seconds()
    result = run_wrk(port, seconds, script=script)
    cpu, sim_cpu = target.cpu_seconds() - before, simulator.cpu_seconds() - sim_before
    per_request = 1000 * cpu / result.requests if result.requests else 0.0
    return result, per_request, sim_cpu / max(seconds, 1)


def run(
    workdir: Path, *, rounds: int = 3, seconds: float = 10, warmup: float = 2, quotas: bool = False
) -> ThroughputResult:
    """Baseline and service alternated; with ``quotas`` the service has the default quotas on (per-caller
    off) and every request comes from the next of 2,000 end users."""
    simulator, sim_port = start_simulator(workdir)
    children = [simulator]
    try:
        baseline, baseline_port = start_baseline(workdir, sim_port)
        children.append(baseline)
        port, metrics_port = free_port(), free_port()
        config = service_config(
            workdir / "service",
            port=port,
            simulator_port=sim_port,
            quotas=QUOTAS_ON if quotas else None,
            metrics_port=metrics_port,
        )
        script = LUA_END_USERS if quotas else LUA
        service = start_service(config, port, workdir / "service.log")
        children.append(service)
        result = ThroughputResult()
        for _ in range(rounds):
            run_wrk(baseline_port, warmup)
            b, b_cpu, _ = _measure(baseline_port, seconds, baseline, simulator)
            run_wrk(port, warmup, script=script)
            batches_before = scrape_batches(metrics_port)
            s, s_cpu, sim_share = _measure(port, seconds, service, simulator, script)
            result.batches.append(batch_figures(batches_before, scrape_batches(metrics_port)))
            result.baseline.append(b)
            result.service.append(s)
            result.baseline_cpu_per_request_ms.append(b_cpu)
            result.service_cpu_per_request_ms.append(s_cpu)
            result.simulator_cpu_share.append(sim_share)
        return result
    finally:
        for child in reversed(children):
            child.stop()
