"""Prometheus metrics: every name the service exports, in one place.

Labels only ever take values from small fixed sets (routes, status classes, outcomes, fault families, refusal
reasons); never a hetu, end user, purpose or message id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from xroad_vtj import __version__

PREFIX = "xroad_vtj"

UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The service's metrics, registered in their own registry (so tests can make as many as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
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
            "Person queries answered, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.upstream_requests = Counter(
            f"{PREFIX}_upstream_requests_total",
            "Requests sent to the security server, by outcome and fault family.",
            ["outcome", "fault_family"],
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
        self.build_info = Info(f"{PREFIX}_build", "Build information.", registry=r)
        self.build_info.info({"version": __version__})
