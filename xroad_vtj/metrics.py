"""Prometheus metrics: every name the service exports, in one place.

Labels only ever take values from small fixed sets (routes, status classes, outcomes, fault families, refusal
reasons, the seven VTJ operation names); never a hetu, end user, purpose or message id.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics import MetricWrapperBase

from xroad_vtj import __version__
from xroad_vtj.vtj.codes import RETURN_CODES, normalise_code

PREFIX = "xroad_vtj"

UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The service's metrics, registered in their own registry (so tests can make as many as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}
        r = self.registry
        # process_* (CPU, memory, open files) and python_* (GC, version), as the default registry has them.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.http_requests = Counter(
            f"{PREFIX}_http_requests_total",
            "HTTP requests answered, by route and status class.",
            ["route", "method", "status_class"],
            registry=r,
        )
        self.http_duration = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.queries = Counter(
            f"{PREFIX}_queries_total",
            "VTJ queries answered (every operation), by outcome and operation.",
            ["outcome", "operation"],
            registry=r,
        )
        self.upstream_requests = Counter(
            f"{PREFIX}_upstream_requests_total",
            "Requests sent to the security server (or the direct service), by outcome, fault family and operation.",
            ["outcome", "fault_family", "operation"],
            registry=r,
        )
        self.upstream_duration = Histogram(
            f"{PREFIX}_upstream_request_duration_seconds",
            "Time from sending a request to the security server until its answer was read.",
            buckets=UPSTREAM_BUCKETS,
            registry=r,
        )
        self.upstream_faults = Counter(
            f"{PREFIX}_upstream_faults_total",
            "SOAP faults received, by fault family.",
            ["fault_family"],
            registry=r,
        )
        self.in_flight = Gauge(
            f"{PREFIX}_queries_in_flight",
            "Person queries being handled right now.",
            registry=r,
        )
        self.audit_appends = Counter(
            f"{PREFIX}_audit_appends_total",
            "Audit records appended, by kind (intent, outcome, refusal, event).",
            ["kind"],
            registry=r,
        )
        self.audit_append_failures = Counter(
            f"{PREFIX}_audit_append_failures_total",
            "Audit appends that failed.",
            registry=r,
        )
        self.audit_batch_records = Histogram(
            f"{PREFIX}_audit_batch_records",
            "Audit records per committed write transaction (how well group commit groups).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
            registry=r,
        )
        self.audit_last_checkpoint = Gauge(
            f"{PREFIX}_audit_last_checkpoint_timestamp_seconds",
            "Unix time at which the audit log head was last covered by a signed checkpoint.",
            registry=r,
        )
        self.policy_refusals = Counter(
            f"{PREFIX}_policy_refusals_total",
            "Queries refused before anything was sent, by reason (the problem code).",
            ["reason"],
            registry=r,
        )
        self.client_cert_expiry = Gauge(
            f"{PREFIX}_client_certificate_expiry_timestamp_seconds",
            "notAfter of the X-Road client TLS certificate, as Unix time.",
            registry=r,
        )
        self.vtj_return_codes = Counter(
            f"{PREFIX}_vtj_return_codes_total",
            "VTJ return codes (Paluukoodi) received, by code: a code of VTJ's catalogue, else other.",
            ["return_code"],
            registry=r,
        )
        self.quota_refusals = Counter(
            f"{PREFIX}_quota_refusals_total",
            "Queries refused by a quota, by caller (a configured caller name) and quota.",
            ["caller", "quota"],
            registry=r,
        )
        # The route probe (xroad_vtj/route_probe.py): allowedMethods through the security server on a timer.
        self.route_up = Gauge(
            f"{PREFIX}_route_up",
            "1 when the last allowedMethods call through the security server was answered, else 0.",
            registry=r,
        )
        self.route_last_success = Gauge(
            f"{PREFIX}_route_last_success_timestamp_seconds",
            "Unix time of the last answered allowedMethods call (0: none yet).",
            registry=r,
        )
        self.route_service_allowed = Gauge(
            f"{PREFIX}_route_service_allowed",
            "1 when the last allowedMethods answer listed the configured VTJ service, else 0.",
            registry=r,
        )
        self.route_probes = Counter(
            f"{PREFIX}_route_probes_total",
            "allowedMethods probes, by result (ok or the error code).",
            ["result"],
            registry=r,
        )
        self.build_info = Info(f"{PREFIX}_build", "Build information.", registry=r)
        self.build_info.info({"version": __version__})

    def child(self, metric: MetricWrapperBase, *values: str) -> Any:
        """``metric.labels(*values)`` (values in the order of its label names), remembered.

        prometheus_client validates, joins and looks up the label values on every ``labels()`` call (about 4 µs,
        several times per query); the children a query touches are few and live as long as the metric, so they
        are kept here. Holds no more entries than the metric itself already holds children.
        """
        key = (metric, values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def count_return_code(self, code: str | None) -> None:
        """Count one VTJ return code; a code outside VTJ's catalogue is ``other`` (the label set stays fixed)."""
        if code is None:
            return
        code = normalise_code(code)
        self.child(self.vtj_return_codes, code if code in RETURN_CODES else "other").inc()

    def count_quota_refusal(self, caller: str, quota: object) -> None:
        """Count a quota refusal; caller names come from the configuration, quota names from the policy."""
        self.quota_refusals.labels(caller=caller, quota=quota if isinstance(quota, str) else "unknown").inc()

    def drop_route_metrics(self) -> None:
        """With the route probe off, export no route series at all (so no route alert can fire on a 0)."""
        for metric in (self.route_up, self.route_last_success, self.route_service_allowed, self.route_probes):
            self.registry.unregister(metric)
