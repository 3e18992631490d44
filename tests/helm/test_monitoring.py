"""ServiceMonitor, PrometheusRule and the Grafana dashboard: well-formed, and asking only for series the
service exports (read from xroad_vtj.metrics)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.helm.chart import (
    CHART_DIR,
    FULLNAME,
    KUBE_STATE_METRICS_LABELS,
    NAMESPACE,
    PROMETHEUS_SERIES,
    TARGET_LABELS,
    Manifest,
    Rendered,
    exported_metric_labels,
    exported_metric_names,
    load_values,
    promql_selectors,
    render,
)

MONITORING_VALUES = load_values(CHART_DIR / "ci" / "monitoring-values.yaml")
DASHBOARD_FILE = CHART_DIR / "dashboards" / "xroad-vtj.json"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
ALERTS = {
    "XroadVtjUpstreamErrorRatioHigh",
    "XroadVtjUpstreamLatencyHigh",
    "XroadVtjAuditAppendFailed",
    "XroadVtjAuditCheckpointStale",
    "XroadVtjClientCertificateExpiring",
    "XroadVtjTargetDown",
    "XroadVtjRouteDown",
    "XroadVtjServiceNotAllowed",
    "XroadVtjCredentialsRejected",
    "XroadVtjBulkUseSuspected",
    "XroadVtjInFlightSaturated",
    "XroadVtjHttp5xxRatioHigh",
    "XroadVtjAuditMaintenanceFailed",
    "XroadVtjAuditMaintenanceNotSucceeding",
}
# Alerts on kube-state-metrics series: they select the release's Jobs by namespace and name, not by job.
KSM_ALERTS = {"XroadVtjAuditMaintenanceFailed", "XroadVtjAuditMaintenanceNotSucceeding"}
# Grafana variables, replaced by plain values before the PromQL is parsed.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$namespace": "registry", "$job": "rel-xroad-vtj"}


@pytest.fixture(scope="module")
def monitoring() -> Rendered:
    return render(MONITORING_VALUES)


@pytest.fixture(scope="module")
def rules(monitoring: Rendered) -> dict[str, Manifest]:
    groups = monitoring.one("PrometheusRule")["spec"]["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def assert_known_series(expr: str) -> None:
    selectors = promql_selectors(expr)
    assert selectors, expr
    labels = exported_metric_labels()
    for selector in selectors:
        if selector.name in KUBE_STATE_METRICS_LABELS:
            assert selector.labels <= KUBE_STATE_METRICS_LABELS[selector.name], selector
            continue
        assert selector.name in exported_metric_names() | PROMETHEUS_SERIES, selector.name
        if selector.name in labels:
            assert selector.labels <= labels[selector.name] | TARGET_LABELS, (selector.name, selector.labels)


def test_the_metric_catalogue_is_what_the_alerts_are_written_for() -> None:
    assert {
        "xroad_vtj_upstream_requests_total",
        "xroad_vtj_upstream_request_duration_seconds_bucket",
        "xroad_vtj_audit_append_failures_total",
        "xroad_vtj_audit_last_checkpoint_timestamp_seconds",
        "xroad_vtj_client_certificate_expiry_timestamp_seconds",
    } <= exported_metric_names()


def test_the_series_check_refuses_an_unknown_metric_and_a_wrong_label() -> None:
    with pytest.raises(AssertionError):
        assert_known_series("rate(xroad_vtj_requests_total[5m])")
    with pytest.raises(AssertionError):
        assert_known_series('rate(xroad_vtj_queries_total{hetu="x"}[5m])')


def test_service_monitor_scrapes_the_metrics_port_of_this_release(monitoring: Rendered) -> None:
    monitor = monitoring.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    spec = monitor["spec"]
    service = monitoring.one("Service")
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert DURATION.match(endpoint["interval"]) and DURATION.match(endpoint["scrapeTimeout"])


def test_prometheus_rule_is_well_formed(monitoring: Rendered) -> None:
    rule = monitoring.one("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for group in rule["spec"]["groups"]:
        assert group["name"]
        for entry in group["rules"]:
            assert set(entry) <= {"alert", "expr", "for", "labels", "annotations"}
            assert entry["labels"]["severity"] in {"warning", "critical"}
            assert entry["labels"]["team"] == "population-data"
            assert entry["annotations"]["summary"]
            assert entry["annotations"]["description"]
            assert entry["annotations"]["runbook_url"].startswith("https://runbooks.example.internal/")
            if "for" in entry:
                assert DURATION.match(entry["for"]), entry["alert"]


def test_every_alert_is_there(rules: dict[str, Manifest]) -> None:
    assert set(rules) == ALERTS


def test_every_alert_parses_and_asks_only_for_exported_series(rules: dict[str, Manifest]) -> None:
    for rule in rules.values():
        assert_known_series(rule["expr"])


def test_every_alert_selects_this_release_only(rules: dict[str, Manifest]) -> None:
    for name, rule in rules.items():
        if name in KSM_ALERTS:
            assert (
                f'namespace="{NAMESPACE}"' in rule["expr"] and f"{FULLNAME}-audit-maintenance" in rule["expr"]
            )
            continue
        for selector in promql_selectors(rule["expr"]):
            assert {"namespace", "job"} <= selector.labels, name
        assert f'namespace="{NAMESPACE}"' in rule["expr"] and f'job="{FULLNAME}"' in rule["expr"]


def test_upstream_error_ratio_counts_every_outcome_but_the_answers(rules: dict[str, Manifest]) -> None:
    expr = rules["XroadVtjUpstreamErrorRatioHigh"]["expr"]
    assert 'outcome!~"found|not_found|passivated|deceased|not_disclosed"' in expr
    assert expr.rstrip().endswith("> 0.05")


def test_latency_alert_uses_the_p95_of_the_upstream_histogram(rules: dict[str, Manifest]) -> None:
    expr = rules["XroadVtjUpstreamLatencyHigh"]["expr"]
    assert "histogram_quantile(0.95" in expr
    assert "xroad_vtj_upstream_request_duration_seconds_bucket" in expr


def test_any_audit_append_failure_is_critical_at_once(rules: dict[str, Manifest]) -> None:
    rule = rules["XroadVtjAuditAppendFailed"]
    assert rule["labels"]["severity"] == "critical"
    assert "for" not in rule
    assert rule["expr"].rstrip().endswith("> 0")


@pytest.mark.parametrize(("interval", "intervals", "limit"), [(300, 3, "900"), (120, 2.5, "300")])
def test_stale_checkpoint_threshold_is_a_multiple_of_the_interval(
    interval: int, intervals: float, limit: str
) -> None:
    values: dict[str, Any] = json.loads(json.dumps(MONITORING_VALUES))
    values.setdefault("config", {})["audit"] = {"backend": "sqlite", "checkpoint_interval_seconds": interval}
    values["metrics"]["prometheusRule"]["checkpointStaleIntervals"] = intervals
    groups = render(values).one("PrometheusRule")["spec"]["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r["alert"] == "XroadVtjAuditCheckpointStale"]
    assert rule["expr"].rstrip().endswith(f"> {limit}")


def test_client_certificate_alert_fires_fourteen_days_ahead(rules: dict[str, Manifest]) -> None:
    expr = rules["XroadVtjClientCertificateExpiring"]["expr"]
    assert expr.rstrip().endswith(f"< {14 * 86400}")
    assert "> 0" in expr  # no certificate configured (gauge 0) is not "expiring"


def test_target_down_also_fires_when_the_target_vanished(rules: dict[str, Manifest]) -> None:
    expr = rules["XroadVtjTargetDown"]["expr"]
    assert "== 0" in expr and "absent(up{" in expr


def test_dashboard_config_map_carries_the_sidecar_label_and_folder(monitoring: Rendered) -> None:
    dashboard = monitoring.one("ConfigMap", f"{FULLNAME}-dashboard")
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"]["grafana_folder"] == "X-Road"
    assert json.loads(dashboard["data"]["xroad-vtj.json"]) == json.loads(DASHBOARD_FILE.read_text())


def _dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def _grafana_to_promql(query: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    assert "$" not in query, query
    return query


def test_dashboard_queries_parse_and_ask_only_for_exported_series() -> None:
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    queries = _dashboard_queries(dashboard)
    assert len(queries) >= 12
    for query in queries:
        assert_known_series(_grafana_to_promql(query))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            inner = re.fullmatch(r"label_values\((.+), \w+\)", variable["query"]["query"])
            assert inner, variable["name"]
            assert_known_series(_grafana_to_promql(inner.group(1)))


def test_dashboard_covers_upstream_audit_and_certificate(monitoring: Rendered) -> None:
    queries = "\n".join(_dashboard_queries(json.loads(DASHBOARD_FILE.read_text())))
    for series in (
        "xroad_vtj_queries_total",
        "xroad_vtj_upstream_requests_total",
        "xroad_vtj_upstream_request_duration_seconds_bucket",
        "xroad_vtj_queries_in_flight",
        "xroad_vtj_audit_appends_total",
        "xroad_vtj_audit_append_failures_total",
        "xroad_vtj_audit_last_checkpoint_timestamp_seconds",
        "xroad_vtj_policy_refusals_total",
        "xroad_vtj_client_certificate_expiry_timestamp_seconds",
        "xroad_vtj_http_requests_total",
        "xroad_vtj_route_up",
        "xroad_vtj_route_service_allowed",
        "xroad_vtj_route_last_success_timestamp_seconds",
        "xroad_vtj_vtj_return_codes_total",
        "xroad_vtj_quota_refusals_total",
        "process_resident_memory_bytes",
    ):
        assert series in queries, series


def test_dashboard_panels_use_the_datasource_variable_and_do_not_overlap() -> None:
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        mine = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & mine, panel["title"]
        cells |= mine
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_every_alert_has_a_runbook_entry_in_the_operations_guide(rules: dict[str, Manifest]) -> None:
    guide = (CHART_DIR.parents[1] / "docs" / "operations.md").read_text()
    anchors = {
        line.removeprefix("#### ").strip().lower() for line in guide.splitlines() if line.startswith("#### ")
    }
    for name, rule in rules.items():
        assert name.lower() in anchors, name
        assert rule["annotations"]["runbook_url"].endswith("#" + name.lower())


def test_alerts_without_the_cronjob_leave_out_its_alerts() -> None:
    values: dict[str, Any] = json.loads(json.dumps(MONITORING_VALUES))
    values["auditMaintenance"] = {"enabled": False}
    groups = render(values).one("PrometheusRule")["spec"]["groups"]
    assert {r["alert"] for g in groups for r in g["rules"]} == ALERTS - KSM_ALERTS


def test_route_down_means_no_replica_gets_an_answer_for_five_minutes(rules: dict[str, Manifest]) -> None:
    rule = rules["XroadVtjRouteDown"]
    assert rule["expr"].startswith("max by (namespace, job) (xroad_vtj_route_up{")
    assert rule["expr"].rstrip().endswith("== 0")
    assert rule["for"] == "5m"
    allowed = rules["XroadVtjServiceNotAllowed"]
    assert "xroad_vtj_route_service_allowed" in allowed["expr"] and allowed["expr"].rstrip().endswith("== 0")


def test_credentials_alert_fires_on_any_credentials_return_code_at_once(rules: dict[str, Manifest]) -> None:
    rule = rules["XroadVtjCredentialsRejected"]
    assert 'return_code=~"0003|0004|-1500"' in rule["expr"]
    assert rule["labels"]["severity"] == "critical" and "for" not in rule


def test_bulk_use_alert_is_per_caller_over_the_hourly_threshold(rules: dict[str, Manifest]) -> None:
    expr = rules["XroadVtjBulkUseSuspected"]["expr"]
    assert "sum by (namespace, job, caller) (increase(xroad_vtj_quota_refusals_total{" in expr
    assert "[1h]" in expr and expr.rstrip().endswith("> 20")


@pytest.mark.parametrize(("max_in_flight", "ratio", "limit"), [(256, 0.8, "204.8"), (100, 0.5, "50")])
def test_saturation_alert_is_a_share_of_max_in_flight(max_in_flight: int, ratio: float, limit: str) -> None:
    values: dict[str, Any] = json.loads(json.dumps(MONITORING_VALUES))
    values.setdefault("config", {})["server"] = {"max_in_flight": max_in_flight}
    values["metrics"]["prometheusRule"]["inFlightSaturation"] = {"ratio": ratio, "for": "5m"}
    groups = render(values).one("PrometheusRule")["spec"]["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r["alert"] == "XroadVtjInFlightSaturated"]
    assert "xroad_vtj_queries_in_flight" in rule["expr"]
    assert rule["expr"].rstrip().endswith(f"> {limit}")


def test_5xx_ratio_alert_divides_5xx_answers_by_all_answers(rules: dict[str, Manifest]) -> None:
    expr = rules["XroadVtjHttp5xxRatioHigh"]["expr"]
    assert 'status_class="5xx"' in expr and expr.rstrip().endswith("> 0.05")


def test_the_process_metrics_are_exported() -> None:
    names = exported_metric_names()
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total", "python_info"} <= names
