"""NetworkPolicy: callers from named namespaces, Prometheus to the metrics port, egress to DNS, the security
server and PostgreSQL only."""

from __future__ import annotations

from typing import Any

from tests.helm.chart import CHART_DIR, Manifest, load_values, render, with_minimal

HA = load_values(CHART_DIR / "ci" / "postgresql-ha-values.yaml")
MONITORING = load_values(CHART_DIR / "ci" / "monitoring-values.yaml")


def _policy(values: dict[str, Any]) -> Manifest:
    spec: Manifest = render(values).network_policy["spec"]
    return spec


def _namespaces(peers: list[Manifest]) -> set[str]:
    return {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in peers
        if "namespaceSelector" in p
    }


def test_policy_selects_the_service_pods_and_restricts_both_directions() -> None:
    spec = _policy(HA)
    assert spec["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "xroad-vtj",
        "app.kubernetes.io/instance": "rel",
    }
    assert spec["policyTypes"] == ["Ingress", "Egress"]


def test_callers_reach_only_the_api_port_from_the_named_namespaces() -> None:
    api, metrics = _policy(HA)["ingress"]
    assert api["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert _namespaces(api["from"]) == {"case-management", "registry-portal"}
    same_namespace_pods = [p for p in api["from"] if "namespaceSelector" not in p]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in same_namespace_pods] == [
        "test"
    ]
    assert metrics["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert _namespaces(metrics["from"]) == {"monitoring"}
    assert all("ipBlock" not in peer for rule in (api, metrics) for peer in rule["from"])


def test_egress_goes_to_dns_the_security_server_and_postgresql_only() -> None:
    dns, security_server, postgresql = _policy(HA)["egress"]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert _namespaces(dns["to"]) == {"kube-system"}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert security_server["to"] == [{"ipBlock": {"cidr": "10.20.30.40/32"}}]
    assert security_server["ports"] == [{"port": 8443, "protocol": "TCP"}]
    assert postgresql["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "databases"}},
            "podSelector": {"matchLabels": {"cnpg.io/cluster": "audit"}},
        }
    ]
    assert postgresql["ports"] == [{"port": 5432, "protocol": "TCP"}]


def test_sqlite_needs_no_egress_to_a_database() -> None:
    egress = _policy(MONITORING)["egress"]
    assert len(egress) == 2
    assert all(rule["ports"][0]["port"] != 5432 for rule in egress)


def test_security_server_port_follows_the_url_unless_given() -> None:
    base = with_minimal(
        {"networkPolicy": {"enabled": True, "egress": {"securityServer": {"cidrs": ["192.0.2.10/32"]}}}}
    )
    cases = {
        "http://ss.example/": 80,
        "https://ss.example/": 443,
        "https://ss.example:8443/": 8443,
    }
    for url, port in cases.items():
        base["config"] = {"xroad": {"security_server_url": url}}
        assert _policy(base)["egress"][1]["ports"][0]["port"] == port, url
    base["networkPolicy"]["egress"]["securityServer"]["port"] = 4443
    assert _policy(base)["egress"][1]["ports"][0]["port"] == 4443


def test_without_a_monitoring_namespace_nobody_reaches_the_metrics_port() -> None:
    values = with_minimal(
        {
            "networkPolicy": {
                "enabled": True,
                "ingress": {"namespaces": ["apps"], "monitoringNamespace": ""},
                "egress": {"securityServer": {"cidrs": ["192.0.2.10/32"]}},
            }
        }
    )
    ingress = _policy(values)["ingress"]
    assert [rule["ports"][0]["port"] for rule in ingress] == ["http"]
