"""The background route probe: allowedMethods through the (simulated) security server, watched over time."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import structlog

from tests.conftest import OPERATOR_TOKEN, ServiceFactory, Sim, base_config
from xroad_vtj.config import Config, parse_config
from xroad_vtj.errors import ConfigError
from xroad_vtj.metrics import Metrics
from xroad_vtj.route_probe import ProbeResult, RouteProbe, probe_route
from xroad_vtj.simulator.app import create_simulator_app
from xroad_vtj.simulator.run import RunningSimulator
from xroad_vtj.transport import Transport


@pytest.fixture(autouse=True)
def default_logging() -> None:
    """An earlier in-process CLI test may have pointed logging at a captured stderr that is closed by now."""
    structlog.reset_defaults()


def probe_config(tmp_path: Path, url: str, seconds: float = 60) -> Config:
    return parse_config(
        base_config(tmp_path, url, xroad={"route_probe_seconds": seconds}), tmp_path, environ={}
    )


@pytest.fixture
async def transport_for() -> AsyncIterator[Callable[[Config], Transport]]:
    opened: list[Transport] = []

    def make(config: Config) -> Transport:
        transport = Transport(config.xroad)
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        await transport.close()


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    value = metrics.registry.get_sample_value(name, labels)
    return value


async def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polls a metric that nothing signals
            await asyncio.sleep(0.02)


async def test_an_answered_probe_sets_route_up_and_sees_the_vtj_service_allowed(
    simulator: Sim, tmp_path: Path, transport_for: Callable[[Config], Transport]
) -> None:
    config = probe_config(tmp_path, simulator.url)
    transport = transport_for(config)
    await transport.start()
    metrics = Metrics()
    probe = RouteProbe(config, transport, metrics)
    result = await probe.probe_once()
    assert (result.up, result.service_allowed, result.error) == (True, True, None)
    assert sample(metrics, "xroad_vtj_route_up") == 1
    assert sample(metrics, "xroad_vtj_route_service_allowed") == 1
    assert sample(metrics, "xroad_vtj_route_last_success_timestamp_seconds") == result.at.timestamp()
    assert sample(metrics, "xroad_vtj_route_probes_total", result="ok") == 1
    # One metaservice call (the simulator keeps the message ids it received), no VTJ query.
    assert len(simulator.received) == 1


async def test_a_withdrawn_access_right_shows_as_service_not_allowed_with_the_route_up(
    simulator: Sim, tmp_path: Path, transport_for: Callable[[Config], Transport]
) -> None:
    simulator.state.allowed_services = ()
    config = probe_config(tmp_path, simulator.url)
    transport = transport_for(config)
    await transport.start()
    metrics = Metrics()
    result = await RouteProbe(config, transport, metrics).probe_once()
    assert (result.up, result.service_allowed) == (True, False)
    assert sample(metrics, "xroad_vtj_route_up") == 1
    assert sample(metrics, "xroad_vtj_route_service_allowed") == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_the_probe_sees_the_security_server_go_away_and_come_back(
    tmp_path: Path, transport_for: Callable[[Config], Transport]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    first = RunningSimulator(create_simulator_app())
    await first.start("127.0.0.1", port)
    config = probe_config(tmp_path, url)
    transport = transport_for(config)
    await transport.start()
    metrics = Metrics()
    probe = RouteProbe(config, transport, metrics, interval=0.05)
    probe.start()
    try:
        await eventually(lambda: sample(metrics, "xroad_vtj_route_up") == 1)
        seen_up = probe.last_success
        assert seen_up is not None

        await first.stop()
        await eventually(lambda: sample(metrics, "xroad_vtj_route_up") == 0)
        assert probe.last is not None and probe.last.error == "upstream_unavailable"
        assert probe.last.service_allowed is None  # unknown while down, not "not allowed"
        # The last success stays put while the route is down: the alert measures from it.
        down_since = probe.last_success
        assert down_since is not None and down_since >= seen_up
        await asyncio.sleep(0.2)
        assert probe.last_success == down_since
        assert sample(metrics, "xroad_vtj_route_probes_total", result="upstream_unavailable")

        second = RunningSimulator(create_simulator_app())
        await second.start("127.0.0.1", port)
        try:
            await eventually(lambda: sample(metrics, "xroad_vtj_route_up") == 1)
            assert probe.last_success is not None and down_since is not None
            assert probe.last_success > down_since
            assert sample(metrics, "xroad_vtj_route_service_allowed") == 1
        finally:
            await second.stop()
    finally:
        await probe.stop()


async def test_a_probe_that_raises_unexpectedly_does_not_end_the_watch(
    simulator: Sim, tmp_path: Path, transport_for: Callable[[Config], Transport]
) -> None:
    config = probe_config(tmp_path, simulator.url)
    transport = transport_for(config)
    await transport.start()
    calls = 0

    async def flaky(config: Config, transport: Transport) -> ProbeResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug, not a route problem")
        return await probe_route(config, transport)

    metrics = Metrics()
    probe = RouteProbe(config, transport, metrics, interval=0.02, prober=flaky)
    probe.start()
    try:
        await eventually(lambda: sample(metrics, "xroad_vtj_route_up") == 1)
    finally:
        await probe.stop()
    assert calls >= 2


async def test_diagnostics_show_the_last_probe_and_metrics_export_the_route(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    running = await start_service(base_config(tmp_path, simulator.url, xroad={"route_probe_seconds": 60}))
    metrics = running.service.metrics
    await eventually(lambda: sample(metrics, "xroad_vtj_route_up") == 1)
    status, body = await running.get("/v1/diagnostics", OPERATOR_TOKEN)
    assert status == 200
    probe = body["route_probe"]
    assert probe["enabled"] is True and probe["interval_seconds"] == 60
    assert probe["last"]["up"] is True and probe["last"]["service_allowed"] is True
    assert probe["last_success"] == probe["last"]["at"]
    async with running.session.get(f"http://127.0.0.1:{running.service.metrics_port}/metrics") as r:
        text = await r.text()
    assert "xroad_vtj_route_up 1.0" in text
    # Readiness stays local: the probe is not one of its checks.
    status, ready = await running.get("/readyz")
    assert status == 200 and "route" not in str(ready["checks"])


async def test_a_probe_switched_off_exports_no_route_series_and_says_so(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    running = await start_service(base_config(tmp_path, simulator.url, xroad={"route_probe_seconds": 0}))
    status, body = await running.get("/v1/diagnostics", OPERATOR_TOKEN)
    assert status == 200
    assert body["route_probe"] == {
        "enabled": False,
        "interval_seconds": 0,
        "last": None,
        "last_success": None,
    }
    async with running.session.get(f"http://127.0.0.1:{running.service.metrics_port}/metrics") as r:
        text = await r.text()
    assert "xroad_vtj_route_" not in text
    await asyncio.sleep(0.1)
    assert simulator.received == []


async def test_the_security_server_down_at_start_is_seen_but_readiness_stays_up(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    running = await start_service(base_config(tmp_path, url, xroad={"route_probe_seconds": 60}))
    metrics = running.service.metrics
    await eventually(
        lambda: sample(metrics, "xroad_vtj_route_probes_total", result="upstream_unavailable") == 1
    )
    status, _ = await running.get("/readyz")
    assert status == 200
    assert sample(metrics, "xroad_vtj_route_last_success_timestamp_seconds") == 0


@pytest.mark.parametrize("seconds", [1, 4.9, -1])
def test_a_probe_interval_under_five_seconds_is_refused(tmp_path: Path, seconds: float) -> None:
    with pytest.raises(ConfigError) as refused:
        probe_config(tmp_path, "http://127.0.0.1:1/", seconds)
    assert "xroad.route_probe_seconds" in refused.value.detail


def test_the_probe_defaults_to_every_minute(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "http://127.0.0.1:1/")
    del raw["xroad"]["route_probe_seconds"]
    assert parse_config(raw, tmp_path, environ={}).xroad.route_probe_seconds == 60


def test_return_codes_and_quota_refusals_are_counted_with_bounded_labels() -> None:
    metrics = Metrics()
    metrics.count_return_code("0003")
    metrics.count_return_code("-1500")
    metrics.count_return_code("4")
    metrics.count_return_code("7777")  # not in VTJ's catalogue
    metrics.count_return_code("010280-952L")  # whatever arrives, it never becomes a label
    metrics.count_quota_refusal("caseapp", "per_end_user_per_day")
    metrics.count_quota_refusal("caseapp", None)
    assert sample(metrics, "xroad_vtj_vtj_return_codes_total", return_code="0003") == 1
    assert sample(metrics, "xroad_vtj_vtj_return_codes_total", return_code="-1500") == 1
    assert sample(metrics, "xroad_vtj_vtj_return_codes_total", return_code="0004") == 1
    assert sample(metrics, "xroad_vtj_vtj_return_codes_total", return_code="other") == 2
    assert sample(metrics, "xroad_vtj_quota_refusals_total", caller="caseapp", quota="unknown") == 1
    labels = {
        s.labels["return_code"]
        for family in metrics.registry.collect()
        if family.name == "xroad_vtj_vtj_return_codes"
        for s in family.samples
    }
    assert labels == {"0003", "-1500", "0004", "other"}
