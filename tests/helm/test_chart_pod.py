"""The pod: restricted security, read-only secret directories, probes, graceful shutdown, rollouts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helm.chart import (
    CI_FILES,
    DATA_DIR,
    SECRETS_DIR,
    Manifest,
    Rendered,
    load_values,
    render,
    with_minimal,
)

CI_IDS = [path.name for path in CI_FILES]


@pytest.fixture(params=CI_FILES, ids=CI_IDS)
def ci_rendered(request: pytest.FixtureRequest) -> Rendered:
    path: Path = request.param
    return render(load_values(path))


def _mounts_by_volume(rendered: Rendered) -> dict[str, Manifest]:
    return {m["name"]: m for m in rendered.container["volumeMounts"]}


def _volumes(rendered: Rendered) -> dict[str, Manifest]:
    return {v["name"]: v for v in rendered.pod_spec["volumes"]}


def test_pod_runs_with_the_restricted_security_profile(ci_rendered: Rendered) -> None:
    pod = ci_rendered.pod_spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = ci_rendered.container["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container.get("privileged", False) is False
    assert ci_rendered.pod_spec["automountServiceAccountToken"] is False


def test_helm_test_pod_also_meets_the_restricted_profile(ci_rendered: Rendered) -> None:
    for pod in ci_rendered.all("Pod"):
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["readOnlyRootFilesystem"] is True
            assert container["resources"]["limits"]["memory"]


def test_service_account_does_not_mount_a_token(ci_rendered: Rendered) -> None:
    assert ci_rendered.one("ServiceAccount")["automountServiceAccountToken"] is False
    assert ci_rendered.pod_spec["serviceAccountName"] == ci_rendered.one("ServiceAccount")["metadata"]["name"]


def test_resources_are_set(ci_rendered: Rendered) -> None:
    resources = ci_rendered.container["resources"]
    assert resources["requests"]["cpu"]
    assert resources["requests"]["memory"]
    assert resources["limits"]["memory"]


def test_secrets_are_mounted_as_whole_read_only_directories(ci_rendered: Rendered) -> None:
    volumes = _volumes(ci_rendered)
    secret_volumes = {name for name, volume in volumes.items() if "secret" in volume}
    assert {"secret-vtj", "secret-audit"} <= secret_volumes
    for mount in ci_rendered.container["volumeMounts"]:
        if mount["name"] in secret_volumes:
            assert "subPath" not in mount and "subPathExpr" not in mount, mount["name"]
            assert mount["readOnly"] is True, mount["name"]
            assert mount["mountPath"].startswith(f"{SECRETS_DIR}/")
    for name in secret_volumes:
        assert volumes[name]["secret"]["defaultMode"] == 0o440


def test_config_is_mounted_read_only(ci_rendered: Rendered) -> None:
    mount = _mounts_by_volume(ci_rendered)["config"]
    assert mount["readOnly"] is True
    assert "subPath" not in mount
    assert ci_rendered.container["args"] == ["serve", "--config", f"{mount['mountPath']}/config.yaml"]


def test_only_data_and_tmp_are_writable(ci_rendered: Rendered) -> None:
    writable = {m["mountPath"] for m in ci_rendered.container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {DATA_DIR, "/tmp"}
    assert "emptyDir" in _volumes(ci_rendered)["tmp"]


def test_every_secret_volume_refers_to_a_secret_the_chart_makes_or_an_existing_one(
    ci_rendered: Rendered,
) -> None:
    made = {s["metadata"]["name"] for s in ci_rendered.all("Secret")}
    for volume in _volumes(ci_rendered).values():
        if "secret" in volume:
            name = volume["secret"]["secretName"]
            assert name in made or not name.startswith("rel-xroad-vtj-"), name


def test_probes_use_livez_for_startup_and_liveness_and_readyz_for_readiness(ci_rendered: Rendered) -> None:
    container = ci_rendered.container
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"


def test_probes_speak_https_when_the_api_port_has_tls() -> None:
    rendered = render(load_values(next(p for p in CI_FILES if p.name == "mtls-values.yaml")))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert rendered.container[probe]["httpGet"]["scheme"] == "HTTPS"


def test_termination_grace_outlasts_the_services_own_shutdown(ci_rendered: Rendered) -> None:
    grace = ci_rendered.config["server"]["shutdown_grace_seconds"]
    pre_stop = ci_rendered.container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    sleep = int(pre_stop[1]) if pre_stop else 0
    assert ci_rendered.pod_spec["terminationGracePeriodSeconds"] > grace + sleep


def test_termination_grace_follows_the_configured_shutdown_grace() -> None:
    rendered = render(with_minimal({"config": {"server": {"shutdown_grace_seconds": 45}}}))
    assert rendered.pod_spec["terminationGracePeriodSeconds"] == 45 + 5 + 10


def test_ports_come_from_the_service_config(ci_rendered: Rendered) -> None:
    ports = {p["name"]: p["containerPort"] for p in ci_rendered.container["ports"]}
    assert ports == {
        "http": ci_rendered.config["server"]["port"],
        "metrics": ci_rendered.config["server"]["metrics_port"],
    }
    service_ports = {p["name"]: p["targetPort"] for p in ci_rendered.one("Service")["spec"]["ports"]}
    assert service_ports == {"http": "http", "metrics": "metrics"}


def _checksums(values: dict[str, Any]) -> dict[str, str]:
    annotations = render(values).deployment["spec"]["template"]["metadata"]["annotations"]
    return {k: v for k, v in annotations.items() if k.startswith("checksum/")}


def test_checksum_annotation_is_stable_for_the_same_values() -> None:
    assert _checksums(with_minimal({})) == _checksums(with_minimal({}))


@pytest.mark.parametrize(
    "override",
    [
        {"config": {"logging": {"level": "debug"}}},
        {"config": {"xroad": {"timeout_seconds": 20}}},
        {"callers": [{"name": "app", "roles": ["query"]}], "secrets": {"callers": {"existingSecret": "c"}}},
    ],
    ids=["logging-level", "xroad-timeout", "new-caller"],
)
def test_a_config_change_changes_the_checksum_and_rolls_the_pods(override: dict[str, Any]) -> None:
    before = _checksums(with_minimal({}))["checksum/config"]
    assert _checksums(with_minimal(override))["checksum/config"] != before


def test_a_change_to_a_chart_made_secret_changes_the_secret_checksum() -> None:
    first = _checksums(with_minimal({"secrets": {"vtj": {"existingSecret": "", "password": "one"}}}))
    second = _checksums(with_minimal({"secrets": {"vtj": {"existingSecret": "", "password": "two"}}}))
    assert first["checksum/secrets"] != second["checksum/secrets"]
    assert first["checksum/config"] == second["checksum/config"]


def test_sqlite_keeps_its_evidence_on_a_persistent_volume_claim_by_default() -> None:
    rendered = render(with_minimal({}))
    claim = rendered.one("PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert _volumes(rendered)["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert rendered.deployment["spec"]["strategy"]["type"] == "Recreate"


def test_persistence_can_use_an_existing_claim_or_an_empty_dir() -> None:
    existing = render(with_minimal({"persistence": {"existingClaim": "audit-evidence"}}))
    assert not existing.has("PersistentVolumeClaim")
    assert _volumes(existing)["data"]["persistentVolumeClaim"]["claimName"] == "audit-evidence"
    ephemeral = render(with_minimal({"persistence": {"enabled": False}}))
    assert not ephemeral.has("PersistentVolumeClaim")
    assert "emptyDir" in _volumes(ephemeral)["data"]


def test_postgresql_rolls_pods_one_at_a_time_without_losing_capacity() -> None:
    rendered = render(load_values(next(p for p in CI_FILES if p.name == "postgresql-ha-values.yaml")))
    strategy = rendered.deployment["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert rendered.one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    hpa = rendered.one("HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 9)
    assert hpa["scaleTargetRef"]["name"] == rendered.deployment["metadata"]["name"]


def test_optional_objects_are_off_by_default() -> None:
    rendered = render(with_minimal({}))
    for kind in (
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
        "Secret",
    ):
        assert not rendered.has(kind), kind


def test_image_digest_wins_over_the_tag() -> None:
    digest = "sha256:" + "a" * 64
    rendered = render(with_minimal({"image": {"repository": "registry.example/xroad-vtj", "digest": digest}}))
    assert rendered.container["image"] == f"registry.example/xroad-vtj@{digest}"


def test_extra_environment_overrides_reach_the_container() -> None:
    rendered = render(with_minimal({"extraEnv": {"XROAD_VTJ__LOGGING__LEVEL": "debug"}}))
    env = {e["name"]: e["value"] for e in rendered.container["env"]}
    assert env["XROAD_VTJ__LOGGING__LEVEL"] == "debug"
