from __future__ import annotations

import io
import json

from tests.conftest import Running, Sim
from xroad_vtj.logging import configure_logging


async def test_log_lines_carry_ids_but_no_hetu_name_password_or_soap(
    running: Running, simulator: Sim
) -> None:
    stream = io.StringIO()
    configure_logging("debug", stream=stream)
    try:
        await running.query()
        await running.query(hetu="260991-999R")
        simulator.knobs(mode="fault", fault="access_denied")
        await running.query(hetu="010469-999W")
        await running.query(hetu="010280-952X")
    finally:
        configure_logging("info")
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line.get("event") == "http_request" and line.get("request_id") for line in lines)
    assert any(line.get("event") == "upstream_failed" and line.get("xroad_message_id") for line in lines)
    for personal in (
        "010280-952",
        "260991-999R",
        "010469-999W",
        "Testinen",
        "Aino",
        "Testikatu",
        "demo-password",
        "tester@example.fi",
        "CASE-2026-1",
        "Envelope",
        "Henkilotunnus",
    ):
        assert personal not in text
