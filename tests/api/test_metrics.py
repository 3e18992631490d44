from __future__ import annotations

import aiohttp

from tests.conftest import Running


async def test_metrics_port_exports_documented_names_without_personal_data(running: Running) -> None:
    await running.query()
    await running.query(hetu="150785-9939")
    port = running.service.metrics_port
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    assert r.status == 200
    for name in (
        "xroad_vtj_http_requests_total",
        "xroad_vtj_http_request_duration_seconds_bucket",
        "xroad_vtj_queries_total",
        "xroad_vtj_upstream_requests_total",
        "xroad_vtj_upstream_request_duration_seconds_bucket",
        "xroad_vtj_queries_in_flight",
        "xroad_vtj_audit_appends_total",
        "xroad_vtj_build_info",
    ):
        assert name in text
    assert 'xroad_vtj_queries_total{operation="HenkilonTunnusKysely",outcome="found"} 1.0' in text
    for personal in ("010280-952L", "150785-9939", "tester@example.fi", "CASE-2026-1"):
        assert personal not in text


async def test_checkpoint_time_is_current_from_start_even_when_idle(running: Running) -> None:
    import time

    port = running.service.metrics_port
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    line = next(
        x for x in text.splitlines() if x.startswith("xroad_vtj_audit_last_checkpoint_timestamp_seconds ")
    )
    assert abs(float(line.split()[1]) - time.time()) < 60
