from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

import structlog

from xroad_vtj.logging import add_timestamp, configure_logging, get_logger, render_json


def test_timestamp_is_utc_iso_with_microseconds_and_z() -> None:
    before = datetime.now(UTC)
    stamp = add_timestamp(None, "info", {})["timestamp"]
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert before <= moment <= after


def test_rendered_line_is_what_structlogs_json_renderer_writes() -> None:
    event = {
        "event": "http_request",
        "route": "/v1/x",
        "status": 200,
        "seconds": 0.0123,
        "note": "ä",
        "n": None,
    }
    assert render_json(None, "info", dict(event)) == structlog.processors.JSONRenderer()(
        None, "info", dict(event)
    )
    odd = {"event": "x", "value": object()}
    assert json.loads(render_json(None, "info", odd))["value"].startswith("<object object")


def test_a_log_line_carries_level_timestamp_context_and_redacts() -> None:
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    try:
        structlog.contextvars.bind_contextvars(request_id="r1")
        get_logger("test").info("something", hetu="010280-952L", status=200)
        get_logger("test").debug("not_written")
    finally:
        structlog.contextvars.clear_contextvars()
        configure_logging("info")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "something" and record["level"] == "info" and record["request_id"] == "r1"
    assert record["hetu"] == "[redacted]" and record["status"] == 200
    assert record["timestamp"].endswith("Z")
