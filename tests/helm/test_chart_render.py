"""The chart renders, lints and validates for every ci/ values file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from helm_python import chart as hc

from tests.helm.chart import (
    CHART_DIR,
    CI_FILES,
    CRD_KINDS,
    KUBERNETES_VERSION,
    NAMESPACE,
    load_values,
    render,
)

CI_IDS = [path.name for path in CI_FILES]

EXPECTED_CI_FILES = {
    "defaults-values.yaml",
    "postgresql-ha-values.yaml",
    "mtls-values.yaml",
    "monitoring-values.yaml",
    "evidence-values.yaml",
    "direct-values.yaml",
}

INFO = 1


def test_ci_values_cover_defaults_postgresql_ha_mtls_monitoring_evidence_and_direct() -> None:
    assert {path.name for path in CI_FILES} >= EXPECTED_CI_FILES


@pytest.mark.parametrize("values_file", CI_FILES, ids=CI_IDS)
def test_chart_lints_strictly_without_warnings(values_file: Path) -> None:
    result: dict[str, Any] = hc.lint(CHART_DIR, load_values(values_file), strict=True, namespace=NAMESPACE)
    assert result["errors"] == []
    worse_than_info = [m for m in result["messages"] if m["severity"] > INFO]
    assert worse_than_info == []


@pytest.mark.parametrize("values_file", CI_FILES, ids=CI_IDS)
def test_every_rendered_object_is_valid_for_kubernetes(values_file: Path) -> None:
    rendered = render(load_values(values_file))
    checked = 0
    for manifest in rendered.objects:
        if manifest["kind"] in CRD_KINDS:
            continue  # no published schema: tests/helm/test_monitoring.py checks them by hand
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']}: {error.message}")
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("values_file", CI_FILES, ids=CI_IDS)
def test_every_object_is_namespaced_to_the_release_and_labelled(values_file: Path) -> None:
    values = load_values(values_file)
    dashboard_namespace = values.get("metrics", {}).get("grafanaDashboard", {}).get("namespace") or NAMESPACE
    for manifest in render(values).objects:
        metadata = manifest["metadata"]
        expected = dashboard_namespace if metadata["name"].endswith("-dashboard") else NAMESPACE
        assert metadata["namespace"] == expected, metadata["name"]
        assert metadata["labels"]["app.kubernetes.io/instance"] == "rel"
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "Helm"


@pytest.mark.parametrize("values_file", CI_FILES, ids=CI_IDS)
def test_object_names_are_unique_per_kind(values_file: Path) -> None:
    keys = [(m["kind"], m["metadata"]["name"]) for m in render(load_values(values_file)).objects]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("values_file", CI_FILES, ids=CI_IDS)
def test_notes_tell_how_to_check_the_release(values_file: Path) -> None:
    notes = render(load_values(values_file)).notes
    assert "helm test rel" in notes
    assert "xroad-vtj check --config /etc/xroad-vtj/config/config.yaml" in notes


def test_notes_warn_when_the_sqlite_audit_trail_is_not_persisted() -> None:
    values = load_values(CHART_DIR / "ci" / "defaults-values.yaml")
    values["persistence"] = {"enabled": False}
    assert "LOST WITH THE POD" in render(values).notes


def test_helm_test_hook_calls_readyz_on_the_service() -> None:
    rendered = render(load_values(CHART_DIR / "ci" / "defaults-values.yaml"))
    hooks = [p for p in rendered.all("Pod") if p["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    assert len(hooks) == 1
    script = "\n".join(hooks[0]["spec"]["containers"][0]["command"])
    assert "http://rel-xroad-vtj:8080/readyz" in script
    assert hooks[0]["spec"]["restartPolicy"] == "Never"


def test_helm_test_pod_is_never_selected_by_the_deployment_or_the_service() -> None:
    rendered = render(load_values(CHART_DIR / "ci" / "defaults-values.yaml"))
    test_labels = rendered.one("Pod")["metadata"]["labels"]
    for selector in (
        rendered.deployment["spec"]["selector"]["matchLabels"],
        rendered.one("Service")["spec"]["selector"],
    ):
        assert not selector.items() <= test_labels.items()


def test_helm_test_uses_https_when_the_api_port_has_tls() -> None:
    rendered = render(load_values(CHART_DIR / "ci" / "mtls-values.yaml"))
    script = "\n".join(rendered.one("Pod")["spec"]["containers"][0]["command"])
    assert "https://rel-xroad-vtj:8080/readyz" in script


@pytest.mark.parametrize("values_file", CI_FILES, ids=CI_IDS)
def test_helm_test_script_is_valid_python(values_file: Path) -> None:
    command = render(load_values(values_file)).one("Pod")["spec"]["containers"][0]["command"]
    assert command[:2] == ["python", "-c"]
    compile(command[2], "readyz-test", "exec")


def test_chart_metadata_names_home_sources_maintainers_and_icon() -> None:
    import yaml

    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["home"].startswith("https://")
    assert chart["sources"] and all(s.startswith("https://") for s in chart["sources"])
    assert chart["maintainers"] and all(m["name"] and "@" in m["email"] for m in chart["maintainers"])
    assert chart["icon"].startswith("https://")


def test_notes_name_the_migrate_hook_and_how_to_run_the_maintenance_now() -> None:
    notes = render(load_values(CHART_DIR / "ci" / "evidence-values.yaml")).notes
    assert "hook Job rel-xroad-vtj-migrate" in notes
    assert "create job --from=cronjob/rel-xroad-vtj-audit-maintenance" in notes
    assert "migrate" not in render(load_values(CHART_DIR / "ci" / "defaults-values.yaml")).notes
