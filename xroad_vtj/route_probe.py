"""The route to VTJ, watched in the background: ``allowedMethods`` through the security server on a timer.

Rules this module keeps:

- ``/readyz`` stays local. A security server outage must not take every replica out of the Service, so the
  probe only exports what it sees (``xroad_vtj_route_up``, the time of the last success, whether the configured
  VTJ service is still allowed) for alerts and ``GET /v1/diagnostics``; it never changes readiness.
- It is the same call ``xroad-vtj check`` makes (the X-Road metaservice, answered by the provider's security
  server without reaching VTJ): no person is looked up, nothing is audited, no VTJ credential is sent.
- One probe at a time, every ``xroad.route_probe_seconds`` (0 = off), through the service's own transport (the
  same TLS, client certificate and pool as the queries). A failed probe is one log line with the error code.
- The result carries only identifiers and stable error codes: nothing personal exists here to leak.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xroad_vtj.config import Config
from xroad_vtj.errors import XRoadVtjError
from xroad_vtj.logging import get_logger
from xroad_vtj.metrics import Metrics
from xroad_vtj.transport import Transport, deadline_post
from xroad_vtj.xroad import (
    Headers,
    build_metaservice_request,
    new_message_id,
    parse_message,
    parse_service_list,
    verify_response,
)

__all__ = ["PROBE_USER_ID", "ProbeResult", "RouteProbe", "probe_route"]

log = get_logger("xroad_vtj.route_probe")

# userId of the probe's messages: the security server's message log shows the probe for what it is.
PROBE_USER_ID = "xroad-vtj-route-probe"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe: did the security server answer allowedMethods, and does the answer list the VTJ service."""

    at: datetime
    up: bool
    # None while the route is down: nothing is known about the access rights then.
    service_allowed: bool | None
    duration_seconds: float
    # The service's stable error code (upstream_unavailable, upstream_timeout, upstream_fault, …) when down.
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "up": self.up,
            "service_allowed": self.service_allowed,
            "duration_seconds": round(self.duration_seconds, 3),
            "error": self.error,
        }


async def probe_route(config: Config, transport: Transport) -> ProbeResult:
    """Call ``allowedMethods`` of the VTJ provider as the configured client; never raises a service error."""
    service = config.vtj.service
    headers = Headers(
        client=config.xroad.client,
        service=service.with_code("allowedMethods"),
        id=new_message_id(),
        user_id=PROBE_USER_ID,
    )
    sent = build_metaservice_request(headers)
    at = datetime.now(UTC)
    started = time.monotonic()
    try:
        reply = await deadline_post(transport, sent, config.xroad.timeout_seconds)
        message = parse_message(reply.body, reply.content_type, max_bytes=config.xroad.max_response_bytes)
        allowed = parse_service_list(verify_response(message, sent, headers))
    except XRoadVtjError as error:
        return ProbeResult(at, False, None, time.monotonic() - started, error.code)
    return ProbeResult(at, True, service in allowed, time.monotonic() - started)


Prober = Callable[[Config, Transport], Awaitable[ProbeResult]]


class RouteProbe:
    """Runs :func:`probe_route` every ``interval`` seconds and keeps the metrics and the last result."""

    def __init__(
        self,
        config: Config,
        transport: Transport,
        metrics: Metrics,
        *,
        interval: float | None = None,
        prober: Prober = probe_route,
    ) -> None:
        self.config = config
        self.transport = transport
        self.metrics = metrics
        self.interval = config.xroad.route_probe_seconds if interval is None else interval
        self._prober = prober
        self.last: ProbeResult | None = None
        self.last_success: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        # allowedMethods is an X-Road metaservice: DVV's direct route has no security server to ask, and a probe
        # there would only ever report the route down.
        return self.interval > 0 and self.config.vtj.route == "xroad"

    async def probe_once(self) -> ProbeResult:
        result: ProbeResult = await self._prober(self.config, self.transport)
        self._record(result)
        return result

    def _record(self, result: ProbeResult) -> None:
        was_up = self.last.up if self.last is not None else None
        self.last = result
        m = self.metrics
        m.route_up.set(1 if result.up else 0)
        m.route_probes.labels(result="ok" if result.up else (result.error or "error")).inc()
        if result.up:
            self.last_success = result.at
            m.route_last_success.set(result.at.timestamp())
            m.route_service_allowed.set(1 if result.service_allowed else 0)
            if not result.service_allowed:
                log.warning("route_probe_service_not_allowed", service=str(self.config.vtj.service))
        if result.up != was_up:
            # Only changes are logged: a long outage is one line, not one per interval.
            if result.up:
                log.info("route_probe_up")
            else:
                log.warning("route_probe_down", error=result.error)

    async def run(self) -> None:
        """Probe at once, then every interval, until cancelled."""
        while True:
            try:
                await self.probe_once()
            except Exception as error:  # the watch must outlive any one failure
                log.error("route_probe_failed", error=type(error).__name__)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self.run(), name="route-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /v1/diagnostics`` shows."""
        return {
            "enabled": self.enabled,
            "interval_seconds": self.interval,
            "last": self.last.as_dict() if self.last is not None else None,
            "last_success": self.last_success.isoformat() if self.last_success is not None else None,
        }
