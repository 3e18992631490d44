"""Bad values are refused: by values.schema.json, and by the chart's own rules with a message that helps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helm_python import HelmRenderError, HelmValuesError

from tests.helm.chart import CHART_DIR, render, service_config, with_minimal

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())

POSTGRESQL = {
    "config": {"audit": {"backend": "postgresql"}},
    "secrets": {"database": {"existingSecret": "db"}, "databaseAdmin": {"existingSecret": "db-admin"}},
}


def test_defaults_with_the_two_required_secrets_render() -> None:
    assert render(with_minimal({})).has("Deployment")


@pytest.mark.parametrize(
    "override",
    [
        {"replicaCount": 2},
        {"replicaCount": 3, "persistence": {"enabled": False}},
    ],
    ids=["two-replicas", "three-replicas-without-persistence"],
)
def test_sqlite_with_more_than_one_replica_is_refused(override: dict[str, Any]) -> None:
    with pytest.raises(HelmValuesError, match="replicaCount"):
        render(with_minimal(override))


def test_autoscaling_with_sqlite_is_refused() -> None:
    with pytest.raises(HelmValuesError, match="autoscaling"):
        render(with_minimal({"autoscaling": {"enabled": True}, "persistence": {"enabled": False}}))


def test_postgresql_allows_replicas_and_autoscaling() -> None:
    values = with_minimal(
        {**POSTGRESQL, "replicaCount": 3, "autoscaling": {"enabled": True}, "persistence": {"enabled": False}}
    )
    rendered = render(values)
    assert rendered.has("HorizontalPodAutoscaler")
    assert "replicas" not in rendered.deployment["spec"]


@pytest.mark.parametrize(
    "override",
    [
        {"replicas": 1},
        {"image": {"registry": "example.org"}},
        {"config": {"server": {"hots": "127.0.0.1"}}},
        {"config": {"audit": {"sqlite_path": "/tmp/x"}}},
        {"config": {"vtj": {"password": "in values"}}},
        {"secrets": {"vtj": {"passwordFile": "x"}}},
        {"networkPolicy": {"egress": {"anywhere": True}}},
        {"metrics": {"prometheusRule": {"rules": []}}},
        {"callers": [{"name": "a", "roles": ["query"], "token": "x"}]},
    ],
    ids=lambda o: json.dumps(o, sort_keys=True),
)
def test_unknown_value_keys_are_refused(override: dict[str, Any]) -> None:
    with pytest.raises(HelmValuesError, match="not allowed"):
        render(with_minimal(override))


@pytest.mark.parametrize(
    "override",
    [
        {"config": {"audit": {"backend": "mysql"}}},
        {"config": {"audit": {"retention_years": 4}}},
        {"config": {"logging": {"level": "trace"}}},
        {"config": {"xroad": {"security_server_url": "ftp://ss/"}}},
        {"config": {"xroad": {"client": "FI/GOV"}}},
        {"config": {"server": {"port": 80}}},
        {"podSecurityContext": {"runAsUser": 0, "runAsGroup": 0, "fsGroup": 0}},
        {"secrets": {"callers": {"tokenSha256": {"app": "not-hex"}}}},
        {"callers": [{"name": "app", "roles": ["admin"]}]},
        {"secrets": {"xroadTls": {"enabled": False, "mutual": True}}},
        {"secrets": {"serverTls": {"enabled": False, "clientAuth": True}}},
        {"image": {"digest": "sha256:short"}},
        {"podLabels": {"app.kubernetes.io/name": "other"}},
        {"metrics": {"serviceMonitor": {"additionalLabels": {"helm.sh/chart": "x"}}}},
        {"metrics": {"prometheusRule": {"extraAlertLabels": {"severity": "page"}}}},
        {"extraEnv": {"PATH": "/usr/bin"}},
        # what the chart wires itself: ports, listen address, TLS, file paths, the audit store, callers
        {"podAnnotations": {"checksum/config": "pinned"}},
        {"podAnnotations": {"checksum/anything": "x"}},
        {"extraEnv": {"XROAD_VTJ__SERVER__PORT": "9000"}},
        {"extraEnv": {"XROAD_VTJ__SERVER__HOST": "127.0.0.1"}},
        {"extraEnv": {"XROAD_VTJ__VTJ__PASSWORD_FILE": "/x"}},
        {"extraEnv": {"XROAD_VTJ__AUDIT__DATA_KEY_FILE": "/x"}},
        {"extraEnv": {"XROAD_VTJ__AUDIT__PREVIOUS_DATA_KEY_FILES": "[/x]"}},
        {"extraEnv": {"XROAD_VTJ__XROAD__TLS__CA_FILE": "/x"}},
        {"extraEnv": {"XROAD_VTJ__AUDIT__SQLITE_PATH": "/x"}},
        {"extraEnv": {"XROAD_VTJ__AUDIT__DSN": "postgresql://x"}},
        {"extraEnv": {"XROAD_VTJ__VTJ__PASSWORD": "secret in values"}},
        {"metrics": {"grafanaDashboard": {"sidecarLabel": "not a label"}}},
        {"imagePullSecrets": [{"name": ""}]},
        {"imagePullSecrets": [{"name": "Upper_Case"}]},
        {"persistence": {"storageClassName": "fast ssd"}},
        {"priorityClassName": "High_Priority"},
        {"config": {"xroad": {"route_probe_seconds": 1}}},
        {"migrations": {"enabled": "yes"}},
        {"migrations": {"appRole": "drop table"}},
    ],
    ids=lambda o: json.dumps(o, sort_keys=True),
)
def test_values_of_the_wrong_shape_are_refused(override: dict[str, Any]) -> None:
    with pytest.raises(HelmValuesError):
        render(with_minimal(override))


def _object_schemas(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for key, child in node.items():
            yield from _object_schemas(child, f"{path}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _object_schemas(child, f"{path}[{index}]")


def test_every_object_in_the_schema_is_closed() -> None:
    """Either a fixed set of keys (additionalProperties false) or a map whose values have a schema."""
    schemas = list(_object_schemas(SCHEMA))
    assert len(schemas) > 30
    # Kubernetes objects passed through (a sidecar's securityContext, a volume source) name their API type;
    # the API server checks them, and so do the render tests (kubernetes-validate, strict).
    schemas = [(path, schema) for path, schema in schemas if "x-kubernetes-object" not in schema]
    open_objects = [path for path, schema in schemas if "additionalProperties" not in schema]
    assert open_objects == []
    for path, schema in schemas:
        extra = schema["additionalProperties"]
        assert extra is False or (isinstance(extra, dict) and "type" in extra), path


def test_schema_knows_every_default_value() -> None:
    """values.yaml itself passes (a key missing from the schema would be refused at once)."""
    render(with_minimal({}))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"replicaCount": 2, "persistence": {"enabled": False}}, "sqlite allows replicaCount 1 only"),
        ({"autoscaling": {"enabled": True}, "persistence": {"enabled": False}}, "autoscaling needs"),
        ({"secrets": {"vtj": {"existingSecret": ""}}}, "secrets.vtj: set existingSecret or password"),
        ({"secrets": {"audit": {"existingSecret": "", "dataKey": "k"}}}, "secrets.audit"),
        ({"config": {"audit": {"backend": "postgresql"}}}, "secrets.database"),
        (
            {"callers": [{"name": "app", "roles": ["query"]}]},
            "secrets.callers.tokenSha256 has no entry for caller app",
        ),
        ({"secrets": {"xroadTls": {"enabled": True, "caCrt": "pem"}}}, "https://"),
        ({"secrets": {"xroadTls": {"enabled": True}}}, "secrets.xroadTls"),
        ({"networkPolicy": {"enabled": True}}, "networkPolicy.egress.securityServer"),
        ({"terminationGracePeriodSeconds": 25}, "terminationGracePeriodSeconds must exceed"),
        ({**POSTGRESQL, "replicaCount": 2}, "persistence.existingClaim"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_templates_refuse_what_they_cannot_deploy_with_a_clear_message(
    schemaless_chart: Path, override: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmRenderError, match=message.replace(".", r"\.")):
        render(with_minimal(override), chart_dir=schemaless_chart)


def test_a_termination_grace_period_longer_than_the_shutdown_is_kept() -> None:
    rendered = render(with_minimal({"terminationGracePeriodSeconds": 60}))
    assert rendered.pod_spec["terminationGracePeriodSeconds"] == 60


def test_allowed_extra_env_and_annotations_still_pass() -> None:
    values = with_minimal(
        {
            "extraEnv": {"XROAD_VTJ__XROAD__TIMEOUT_SECONDS": "8", "XROAD_VTJ__LOGGING__LEVEL": "debug"},
            "podAnnotations": {"example.com/team": "registry"},
            "priorityClassName": "high-priority",
            "persistence": {"storageClassName": "fast-ssd"},
            "imagePullSecrets": [{"name": "registry-credentials"}],
            "config": {"xroad": {"route_probe_seconds": 0}},
        }
    )
    assert render(values).deployment


def test_readiness_tolerates_two_missed_probes_by_default() -> None:
    probe = render(with_minimal({})).container["readinessProbe"]
    assert probe["failureThreshold"] == 3


def test_per_operation_services_and_the_schema_cache_reach_the_service(tmp_path: Path) -> None:
    building = "FI-TEST/GOV/0245437-2/VTJkysely/RakennuksenTunnusKysely/v2"
    rendered = render(
        with_minimal(
            {
                "config": {
                    "vtj": {
                        "services": {"RakennuksenTunnusKysely": building},
                        "product_schema_cache_seconds": 600,
                    }
                }
            }
        )
    )
    loaded = service_config(rendered, tmp_path)
    assert str(loaded.vtj.service_for("RakennuksenTunnusKysely")) == building
    assert loaded.vtj.product_schema_cache_seconds == 600


@pytest.mark.parametrize(
    "vtj",
    [
        {"services": {"NoSuchOperation": "FI-TEST/GOV/0245437-2/VTJkysely/NoSuchOperation"}},
        {"services": {"RakennuksenTunnusKysely": "not a service id"}},
        {"product_schema_cache_seconds": -1},
        {"route": "direct"},  # without direct.url (tests/helm/test_chart_direct.py has the rest)
        {"route": "XROAD"},
    ],
    ids=lambda o: json.dumps(o, sort_keys=True),
)
def test_vtj_values_of_the_wrong_shape_are_refused(vtj: dict[str, Any]) -> None:
    with pytest.raises(HelmValuesError):
        render(with_minimal({"config": {"vtj": vtj}}))


def test_the_chart_knows_every_vtj_operation_the_service_does() -> None:
    from xroad_vtj.config import VTJ_OPERATIONS

    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    services = schema["properties"]["config"]["properties"]["vtj"]["properties"]["services"]
    assert services["propertyNames"]["enum"] == list(VTJ_OPERATIONS)
