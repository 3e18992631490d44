"""The migrate hook Job, the audit maintenance CronJob, sidecars and extra volumes, old signing certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_python import HelmValuesError
from helm_python.errors import HelmRenderError

from tests.helm.chart import (
    CHART_DIR,
    FULLNAME,
    KUBERNETES_VERSION,
    SECRETS_DIR,
    Manifest,
    Rendered,
    load_values,
    render,
    with_minimal,
)

POSTGRESQL = {
    "config": {"audit": {"backend": "postgresql"}},
    "secrets": {"database": {"existingSecret": "db"}, "databaseAdmin": {"existingSecret": "db-admin"}},
    "persistence": {"enabled": False},
}
EVIDENCE = load_values(CHART_DIR / "ci" / "evidence-values.yaml")
HOOK_EVENTS = "pre-install,pre-upgrade"
RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def migrate_objects(rendered: Rendered) -> list[Manifest]:
    return [
        o for o in rendered.objects if o["metadata"].get("annotations", {}).get("helm.sh/hook") == HOOK_EVENTS
    ]


def job_pod(job: Manifest) -> Manifest:
    spec: Manifest = job["spec"]["template"]["spec"]
    return spec


def cron_pod(cron: Manifest) -> Manifest:
    spec: Manifest = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def assert_restricted(pod: Manifest) -> None:
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] > 0
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    for container in pod["containers"]:
        c = container["securityContext"]
        assert c["allowPrivilegeEscalation"] is False and c["readOnlyRootFilesystem"] is True
        assert c["capabilities"] == {"drop": ["ALL"]} and c["privileged"] is False


def env(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env", [])}


# --- the migrate hook -----------------------------------------------------------------------------------------


def test_postgresql_runs_audit_migrate_as_a_pre_install_and_pre_upgrade_hook() -> None:
    rendered = render(with_minimal(POSTGRESQL))
    job = rendered.one("Job", f"{FULLNAME}-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == HOOK_EVENTS
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    (container,) = job_pod(job)["containers"]
    assert container["args"][:2] == ["audit", "migrate"]
    assert_restricted(job_pod(job))


def test_the_admin_dsn_comes_from_its_secret_through_the_environment_never_the_command_line() -> None:
    rendered = render(with_minimal(POSTGRESQL))
    job = rendered.one("Job", f"{FULLNAME}-migrate")
    (container,) = job_pod(job)["containers"]
    dsn = env(container)["XROAD_VTJ_AUDIT_ADMIN_DSN"]
    assert dsn["valueFrom"]["secretKeyRef"] == {"name": "db-admin", "key": "dsn"}
    assert "--admin-dsn" not in container["args"]
    assert not any("postgres" in arg for arg in container["args"])


def test_the_admin_dsn_never_reaches_the_service_pods() -> None:
    rendered = render(with_minimal({**POSTGRESQL, "auditMaintenance": {"enabled": True}}))
    volumes = [v.get("secret", {}).get("secretName") for v in rendered.pod_spec["volumes"]]
    assert "db-admin" not in volumes
    assert "XROAD_VTJ_AUDIT_ADMIN_DSN" not in env(rendered.container)


def test_the_hook_brings_its_own_config_read_only_by_migrate() -> None:
    rendered = render(with_minimal(POSTGRESQL))
    (config_map,) = [o for o in migrate_objects(rendered) if o["kind"] == "ConfigMap"]
    assert config_map["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
    audit = yaml.safe_load(config_map["data"]["config.yaml"])["audit"]
    assert audit["backend"] == "postgresql"
    assert audit["dsn_file"] == f"{SECRETS_DIR}/db-admin/dsn"
    job = rendered.one("Job", f"{FULLNAME}-migrate")
    assert int(job["metadata"]["annotations"]["helm.sh/hook-weight"]) > -10


def test_the_hook_grants_the_application_role_when_named() -> None:
    rendered = render(with_minimal({**POSTGRESQL, "migrations": {"appRole": "xroad_vtj"}}))
    (container,) = job_pod(rendered.one("Job", f"{FULLNAME}-migrate"))["containers"]
    assert container["args"][-2:] == ["--app-role", "xroad_vtj"]


def test_a_chart_made_admin_secret_is_a_hook_object_made_before_the_job() -> None:
    values = with_minimal(
        {
            **POSTGRESQL,
            "secrets": {
                "database": {"existingSecret": "db"},
                "databaseAdmin": {"dsn": "postgresql://o@db/a"},
            },
        }
    )
    rendered = render(values)
    secret = rendered.one("Secret", f"{FULLNAME}-db-admin")
    assert secret["metadata"]["annotations"]["helm.sh/hook"] == HOOK_EVENTS
    assert secret["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
    (container,) = job_pod(rendered.one("Job", f"{FULLNAME}-migrate"))["containers"]
    assert (
        env(container)["XROAD_VTJ_AUDIT_ADMIN_DSN"]["valueFrom"]["secretKeyRef"]["name"]
        == f"{FULLNAME}-db-admin"
    )


def test_the_hook_uses_no_service_account_the_release_has_not_made_yet() -> None:
    pod = job_pod(render(with_minimal(POSTGRESQL)).one("Job", f"{FULLNAME}-migrate"))
    assert "serviceAccountName" not in pod
    pod = job_pod(
        render(with_minimal({**POSTGRESQL, "serviceAccount": {"create": False, "name": "existing"}})).one(
            "Job", f"{FULLNAME}-migrate"
        )
    )
    assert pod["serviceAccountName"] == "existing"


def test_the_hook_pod_is_never_selected_by_the_service() -> None:
    rendered = render(with_minimal(POSTGRESQL))
    pod_labels = rendered.one("Job", f"{FULLNAME}-migrate")["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["app.kubernetes.io/component"] == "migrate"
    assert not rendered.one("Service")["spec"]["selector"].items() <= pod_labels.items()


def test_sqlite_has_no_migrate_hook_and_postgresql_may_switch_it_off() -> None:
    assert not migrate_objects(render(with_minimal({})))
    assert not migrate_objects(render(with_minimal({**POSTGRESQL, "migrations": {"enabled": False}})))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {**POSTGRESQL, "secrets": {"database": {"existingSecret": "db"}}},
            "secrets.databaseAdmin",
        ),
        ({"migrations": {"enabled": True}}, "migrations.enabled needs config.audit.backend postgresql"),
        (
            {"secrets": {"audit": {"previousSigningCerts": ["pem"]}}},
            "previousSigningCerts goes with a chart-made",
        ),
        (
            {"auditMaintenance": {"enabled": True, "retention": False, "verify": False}},
            "auditMaintenance: enable retention, verify or both",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_templates_refuse_jobs_they_cannot_run(
    schemaless_chart: Path, override: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmRenderError, match=message.replace(".", r"\.")):
        render(with_minimal(override), chart_dir=schemaless_chart)


# --- the audit maintenance CronJob ------------------------------------------------------------------------------


def test_the_cronjob_is_off_by_default() -> None:
    assert not render(with_minimal({})).has("CronJob")


def test_the_cronjob_runs_retention_then_verify_and_fails_when_either_fails() -> None:
    cron = render(with_minimal({"auditMaintenance": {"enabled": True}})).one("CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    (container,) = cron_pod(cron)["containers"]
    script = container["command"][-1]
    retention = script.index(
        "xroad-vtj audit retention --config /etc/xroad-vtj/config/config.yaml || status=1"
    )
    verify = script.index("xroad-vtj audit verify --config /etc/xroad-vtj/config/config.yaml || status=1")
    assert retention < verify and script.rstrip().endswith("exit $status")
    assert_restricted(cron_pod(cron))


def test_the_cronjob_script_exits_non_zero_when_a_step_fails(tmp_path: Path) -> None:
    """The shell text itself, run with a stand-in xroad-vtj that fails on verify."""
    import subprocess

    cron = render(with_minimal({"auditMaintenance": {"enabled": True}})).one("CronJob")
    script = cron_pod(cron)["containers"][0]["command"][-1]
    fake = tmp_path / "xroad-vtj"
    fake.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n[ "$2" = verify ] && exit 1\nexit 0\n')
    fake.chmod(0o755)
    done = subprocess.run(["/bin/sh", "-c", script], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, check=False)
    assert done.returncode == 1
    assert (tmp_path / "calls").read_text().split("\n")[:2] == [
        "audit retention --config /etc/xroad-vtj/config/config.yaml",
        "audit verify --config /etc/xroad-vtj/config/config.yaml",
    ]


def test_the_cronjob_mounts_what_the_service_mounts() -> None:
    rendered = render(EVIDENCE)
    pod = cron_pod(rendered.one("CronJob"))
    assert pod["volumes"] == rendered.pod_spec["volumes"]
    assert pod["containers"][0]["volumeMounts"] == rendered.container["volumeMounts"]


def test_postgresql_retention_gets_the_admin_dsn_and_sqlite_needs_none() -> None:
    pg = cron_pod(render(EVIDENCE).one("CronJob"))["containers"][0]
    assert env(pg)["XROAD_VTJ_AUDIT_ADMIN_DSN"]["valueFrom"]["secretKeyRef"]["name"] == "xroad-vtj-db-admin"
    sqlite = cron_pod(render(with_minimal({"auditMaintenance": {"enabled": True}})).one("CronJob"))
    assert "XROAD_VTJ_AUDIT_ADMIN_DSN" not in env(sqlite["containers"][0])


def test_with_sqlite_the_cronjob_runs_beside_the_pod_that_has_the_volume() -> None:
    rendered = render(with_minimal({"auditMaintenance": {"enabled": True}}))
    affinity = cron_pod(rendered.one("CronJob"))["affinity"]["podAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["labelSelector"]["matchLabels"].items()
        <= rendered.deployment["spec"]["template"]["metadata"]["labels"].items()
    )


def test_the_cronjob_schedule_and_time_zone_come_from_values() -> None:
    cron = render(EVIDENCE).one("CronJob")
    assert cron["spec"]["schedule"] == "17 3 * * *" and cron["spec"]["timeZone"] == "Europe/Helsinki"


@pytest.mark.parametrize("schedule", ["every night", "* * *", ""])
def test_a_schedule_that_is_no_cron_expression_is_refused(schedule: str) -> None:
    with pytest.raises(HelmValuesError):
        render(with_minimal({"auditMaintenance": {"enabled": True, "schedule": schedule}}))


# --- sidecars, extra volumes, init containers -------------------------------------------------------------------


def test_the_sidecar_example_renders_beside_the_service_container_and_validates() -> None:
    rendered = render(EVIDENCE)
    names = [c["name"] for c in rendered.pod_spec["containers"]]
    assert names == ["xroad-vtj", "checkpoint-shipper"]
    shipper = rendered.pod_spec["containers"][1]
    assert {"name": "data", "mountPath": "/var/lib/xroad-vtj", "readOnly": True} in shipper["volumeMounts"]
    assert "shipper-tmp" in {v["name"] for v in rendered.pod_spec["volumes"]}
    kubernetes_validate.validate(rendered.deployment, KUBERNETES_VERSION, strict=True)


def test_the_sidecar_example_is_the_one_the_operations_guide_shows() -> None:
    guide = (CHART_DIR.parents[1] / "docs" / "operations.md").read_text()
    for needle in ("rclone copy --immutable", "RCLONE_CONFIG_WORM_TYPE", "COMPLIANCE", "extraRules"):
        assert needle in guide
    shipper = EVIDENCE["extraContainers"][0]
    assert shipper["image"] in guide and shipper["args"][0].splitlines()[1].strip() in guide


def test_init_containers_and_extra_mounts_reach_the_pod() -> None:
    values = with_minimal(
        {
            "initContainers": [
                {"name": "wait", "image": "busybox:1.36", "command": ["true"], "securityContext": RESTRICTED}
            ],
            "extraVolumes": [{"name": "ca-bundle", "configMap": {"name": "org-ca"}}],
            "extraVolumeMounts": [{"name": "ca-bundle", "mountPath": "/etc/ssl/org", "readOnly": True}],
        }
    )
    rendered = render(values)
    assert rendered.pod_spec["initContainers"][0]["name"] == "wait"
    assert {"name": "ca-bundle", "mountPath": "/etc/ssl/org", "readOnly": True} in rendered.container[
        "volumeMounts"
    ]
    kubernetes_validate.validate(rendered.deployment, KUBERNETES_VERSION, strict=True)


def test_the_sidecar_network_rule_is_added_to_the_service_policy() -> None:
    egress = render(EVIDENCE).network_policy["spec"]["egress"]
    assert egress[-1]["ports"] == [{"port": 443, "protocol": "TCP"}]


def test_the_jobs_have_a_policy_of_their_own_with_dns_and_postgresql_only() -> None:
    policy = render(EVIDENCE).one("NetworkPolicy", f"{FULLNAME}-jobs")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in policy["spec"]
    ports = [p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]]
    assert ports == [53, 53, 5432]


@pytest.mark.parametrize(
    "override",
    [
        {"extraVolumes": [{"name": "host", "hostPath": {"path": "/"}}]},
        {"extraVolumes": [{"name": "data", "emptyDir": {}}]},
        {"extraVolumes": [{"name": "secret-vtj", "emptyDir": {}}]},
        {"extraVolumes": [{"name": "two", "emptyDir": {}, "configMap": {"name": "x"}}]},
        {"extraVolumeMounts": [{"name": "x", "mountPath": "/etc/xroad-vtj/secrets"}]},
        {"extraVolumeMounts": [{"name": "x", "mountPath": "/var/lib/xroad-vtj"}]},
        {"extraVolumeMounts": [{"name": "x", "mountPath": "/tmp"}]},
        {"extraVolumeMounts": [{"name": "x", "mountPath": "relative"}]},
        {"extraContainers": [{"name": "xroad-vtj", "image": "x"}]},
        {"extraContainers": [{"name": "shipper"}]},
        {
            "extraContainers": [
                {"name": "shipper", "image": "x", "securityContext": {}, "imagePullpolicy": "Always"}
            ]
        },
        {"initContainers": [{"name": "Bad_Name", "image": "x", "securityContext": RESTRICTED}]},
        {"extraContainers": [{"name": "shipper", "image": "x"}]},  # no securityContext
    ],
)
def test_extra_volumes_and_containers_are_schema_checked(override: dict[str, Any]) -> None:
    with pytest.raises(HelmValuesError):
        render(with_minimal(override))


# --- old signing certificates ----------------------------------------------------------------------------------


def test_previous_signing_certificates_from_values_reach_the_config_and_the_secret() -> None:
    values = load_values(CHART_DIR / "ci" / "mtls-values.yaml")
    values["secrets"]["audit"]["previousSigningCerts"] = [
        "-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n"
    ]
    rendered = render(values)
    assert rendered.config["audit"]["previous_signing_cert_files"] == [
        f"{SECRETS_DIR}/audit/previous-signing-0.crt"
    ]
    assert "previous-signing-0.crt" in rendered.one("Secret", f"{FULLNAME}-audit")["data"]


def test_previous_signing_certificates_of_an_existing_secret_are_named_keys() -> None:
    rendered = render(EVIDENCE)
    assert rendered.config["audit"]["previous_signing_cert_files"] == [
        f"{SECRETS_DIR}/audit/signing-2025.crt"
    ]


def test_without_old_certificates_the_config_has_no_such_key() -> None:
    assert "previous_signing_cert_files" not in render(with_minimal({})).config["audit"]
