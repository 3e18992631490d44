"""The series the alerts and the dashboard ask for are in a real scrape of a running service.

The service runs against the simulator with the route probe on, a wrong VTJ username (VTJ answers 0004) and a
quota of one query a minute, so that the counters the VTJ-specific alerts read have samples.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
import structlog

from tests.conftest import ServiceFactory, Sim, base_config
from tests.helm.chart import CHART_DIR, KUBE_STATE_METRICS_LABELS, PROMETHEUS_SERIES, promql_selectors, render
from tests.helm.test_monitoring import MONITORING_VALUES, _dashboard_queries, _grafana_to_promql


@pytest.fixture(autouse=True)
def default_logging() -> None:
    """An earlier in-process CLI test may have pointed logging at a captured stderr that is closed by now."""
    structlog.reset_defaults()


async def scrape(simulator: Sim, start_service: ServiceFactory, tmp_path: Path) -> str:
    raw = base_config(tmp_path, simulator.url, xroad={"route_probe_seconds": 60})
    raw["vtj"]["username"] = "someone-else"
    raw["callers"][0]["quotas"]["per_end_user_per_minute"] = 1
    running = await start_service(raw)
    first, body, _ = await running.query()
    assert (first, body["code"]) == (502, "upstream_rejected")
    second, body, _ = await running.query()
    assert (second, body["code"]) == (429, "quota_exceeded")
    url = f"http://127.0.0.1:{running.service.metrics_port}/metrics"
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            async with session.get(url) as response:
                text = await response.text()
            if "xroad_vtj_route_up 1.0" in text:
                return text
            await asyncio.sleep(0.05)
    raise AssertionError("the route probe did not report")


def scraped_names(text: str) -> set[str]:
    """Names with samples, and labelled families announced by # HELP that have had no event yet."""
    lines = text.splitlines()
    samples = {line.split("{")[0].split(" ")[0] for line in lines if line and not line.startswith("#")}
    announced = {line.split(" ")[2] for line in lines if line.startswith("# HELP ")}
    return samples | announced


async def test_every_series_of_the_alerts_and_the_dashboard_is_in_a_live_scrape(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    text = await scrape(simulator, start_service, tmp_path)
    names = scraped_names(text)
    groups = render(MONITORING_VALUES).one("PrometheusRule")["spec"]["groups"]
    expressions = [rule["expr"] for group in groups for rule in group["rules"]]
    dashboard = json.loads((CHART_DIR / "dashboards" / "xroad-vtj.json").read_text())
    expressions += [_grafana_to_promql(query) for query in _dashboard_queries(dashboard)]
    outside = PROMETHEUS_SERIES | set(KUBE_STATE_METRICS_LABELS)
    wanted = {s.name for expr in expressions for s in promql_selectors(expr)} - outside
    assert wanted - names == set()


async def test_the_vtj_alerts_counters_carry_the_code_and_the_caller(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    text = await scrape(simulator, start_service, tmp_path)
    assert 'xroad_vtj_vtj_return_codes_total{return_code="0004"} 1.0' in text
    assert 'xroad_vtj_quota_refusals_total{caller="caseapp",quota="per_end_user_per_minute"} 1.0' in text
    assert "xroad_vtj_route_service_allowed 1.0" in text
    assert "process_resident_memory_bytes" in text
    for personal in ("010280-952L", "tester@example.fi", "CASE-2026-1"):
        assert personal not in text
