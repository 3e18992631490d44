"""The direct route (config.vtj.route direct: DVV's own HTTPS service, no X-Road): the organisation's
certificate mounted from secrets.dvvTls, the config pointing at it, the values refused that cannot work, and
the NetworkPolicy's egress to DVV in place of the security server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helm_python import HelmRenderError, HelmValuesError

from tests.helm.chart import (
    CHART_DIR,
    SECRETS_DIR,
    Manifest,
    Rendered,
    load_values,
    merged,
    render,
    service_config,
    with_minimal,
)

DIRECT = load_values(CHART_DIR / "ci" / "direct-values.yaml")
URL = DIRECT["config"]["vtj"]["direct"]["url"]
PEM_CERT = "-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nplaceholder\n-----END PRIVATE KEY-----\n"

# The least a direct release needs on top of the defaults ci file.
MINIMAL_DIRECT: dict[str, Any] = {
    "config": {
        "vtj": {"route": "direct", "direct": {"url": "https://vtj-direct.example.fi/SoSoAdapterService"}}
    },
    "secrets": {"dvvTls": {"tlsCrt": PEM_CERT, "tlsKey": PEM_KEY}},
}


def direct(override: dict[str, Any] | None = None) -> Manifest:
    return with_minimal(merged(MINIMAL_DIRECT, override or {}))


def _volume(rendered: Rendered, name: str) -> Manifest | None:
    found = [v for v in rendered.pod_spec["volumes"] if v["name"] == name]
    return found[0] if found else None


def _mount(rendered: Rendered, name: str) -> Manifest | None:
    found = [m for m in rendered.container["volumeMounts"] if m["name"] == name]
    return found[0] if found else None


# --- mounts and the secret ---------------------------------------------------------------------------------


def test_the_dvv_tls_secret_is_mounted_read_only_as_a_whole_directory() -> None:
    rendered = render(DIRECT)
    mount = _mount(rendered, "secret-dvv-tls")
    assert mount == {"name": "secret-dvv-tls", "mountPath": f"{SECRETS_DIR}/dvv-tls", "readOnly": True}
    volume = _volume(rendered, "secret-dvv-tls")
    assert volume is not None
    assert volume["secret"] == {"secretName": "rel-xroad-vtj-dvv-tls", "defaultMode": 0o440}


def test_the_chart_made_secret_holds_certificate_key_and_ca() -> None:
    secret = render(DIRECT).one("Secret", "rel-xroad-vtj-dvv-tls")
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert secret["type"] == "Opaque"


def test_the_audit_maintenance_job_mounts_the_same_files_as_the_service() -> None:
    # It runs the service's own config.yaml, which names the dvv-tls files: they must be there too.
    rendered = render(merged(DIRECT, {"auditMaintenance": {"enabled": True}}))
    job = rendered.one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"] for v in job["volumes"]}
    assert "secret-dvv-tls" in volumes


def test_an_existing_secret_is_mounted_and_none_is_made() -> None:
    rendered = render(
        direct({"secrets": {"dvvTls": {"existingSecret": "org-dvv", "tlsCrt": "", "tlsKey": ""}}})
    )
    volume = _volume(rendered, "secret-dvv-tls")
    assert volume is not None and volume["secret"]["secretName"] == "org-dvv"
    assert [s for s in rendered.all("Secret") if s["metadata"]["name"].endswith("dvv-tls")] == []


def test_the_x_road_route_mounts_no_dvv_files_even_when_they_are_staged_in_values() -> None:
    # Values for the other route may wait in values (a one-line switch); nothing of them reaches the pod.
    staged = with_minimal(
        {
            "config": {"vtj": {"direct": {"url": "https://vtj-direct.example.fi/"}}},
            "secrets": {"dvvTls": {"tlsCrt": PEM_CERT, "tlsKey": PEM_KEY}},
        }
    )
    for values in (with_minimal({}), staged):
        rendered = render(values)
        assert _volume(rendered, "secret-dvv-tls") is None
        assert not [s for s in rendered.all("Secret") if s["metadata"]["name"].endswith("dvv-tls")]
        assert rendered.config["vtj"]["route"] == "xroad"
        assert "direct" not in rendered.config["vtj"]
        assert rendered.config["xroad"]["security_server_url"] == "http://xroad-security-server:8080/"


def test_a_renewed_certificate_rolls_the_pods() -> None:
    def annotations(certificate: str) -> Manifest:
        rendered = render(merged(DIRECT, {"secrets": {"dvvTls": {"tlsCrt": certificate}}}))
        found: Manifest = rendered.deployment["spec"]["template"]["metadata"]["annotations"]
        return found

    old, new = annotations(PEM_CERT), annotations(PEM_CERT.replace("placeholder", "renewed"))
    assert old["checksum/secrets"] != new["checksum/secrets"]
    assert old["checksum/config"] == new["checksum/config"]


# --- the rendered config.yaml ---------------------------------------------------------------------------------


def test_config_points_the_direct_route_at_the_mounted_files() -> None:
    config = render(DIRECT).config
    assert config["vtj"]["route"] == "direct"
    assert config["vtj"]["direct"] == {
        "url": URL,
        "tls": {
            "ca_file": f"{SECRETS_DIR}/dvv-tls/ca.crt",
            "cert_file": f"{SECRETS_DIR}/dvv-tls/tls.crt",
            "key_file": f"{SECRETS_DIR}/dvv-tls/tls.key",
        },
    }


def test_config_has_no_security_server_on_the_direct_route() -> None:
    config = render(DIRECT).config
    assert "security_server_url" not in config["xroad"] and "tls" not in config["xroad"]
    assert config["xroad"]["client"] == "FI/MUN/0101263-6/caseapp"
    assert config["xroad"]["timeout_seconds"] == 8


def test_the_service_loads_the_direct_route_with_the_mounted_files(tmp_path: Path) -> None:
    loaded = service_config(render(DIRECT), tmp_path)
    assert loaded.vtj.route == "direct"
    assert loaded.vtj.direct is not None
    assert loaded.vtj.direct.url == URL
    tls = loaded.vtj.direct.tls
    assert (tls.ca_file, tls.cert_file, tls.key_file) == (
        tmp_path / "dvv-tls" / "ca.crt",
        tmp_path / "dvv-tls" / "tls.crt",
        tmp_path / "dvv-tls" / "tls.key",
    )
    assert tls.cert_file.read_text() == DIRECT["secrets"]["dvvTls"]["tlsCrt"]  # the chart-made secret's data
    # The service puts the direct URL where the security server's would be (deadline, size cap, pool).
    assert loaded.xroad.security_server_url == URL
    assert loaded.xroad.tls is None


@pytest.mark.parametrize(
    ("dvv_tls", "ca_file"),
    [
        ({"caCrt": ""}, False),
        ({"caCrt": PEM_CERT}, True),
        ({"existingSecret": "org-dvv", "tlsCrt": "", "tlsKey": ""}, False),
        ({"existingSecret": "org-dvv", "tlsCrt": "", "tlsKey": "", "existingSecretHasCaCrt": True}, True),
    ],
    ids=["made-without-ca", "made-with-ca", "existing-without-ca", "existing-with-ca"],
)
def test_dvvs_ca_is_named_only_when_the_secret_holds_it(
    tmp_path: Path, dvv_tls: dict[str, Any], ca_file: bool
) -> None:
    rendered = render(direct({"secrets": {"dvvTls": dvv_tls}}))
    tls = rendered.config["vtj"]["direct"]["tls"]
    assert ("ca_file" in tls) is ca_file
    made = [s for s in rendered.all("Secret") if s["metadata"]["name"] == "rel-xroad-vtj-dvv-tls"]
    if made:
        assert ("ca.crt" in made[0]["data"]) is ca_file
    loaded = service_config(rendered, tmp_path)
    assert loaded.vtj.direct is not None
    # Without ca.crt the system CA bundle verifies DVV's server (the service's ssl default context).
    assert (loaded.vtj.direct.tls.ca_file is not None) is ca_file


def test_no_certificate_or_key_is_inlined_in_the_config_map() -> None:
    values = merged(
        DIRECT, {"secrets": {"dvvTls": {"tlsKey": "-----BEGIN PRIVATE KEY-----\nsecret-key-text\n"}}}
    )
    config_maps = json.dumps([cm["data"] for cm in render(values).all("ConfigMap")])
    assert "secret-key-text" not in config_maps and "BEGIN" not in config_maps


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "override",
    [
        {"config": {"vtj": {"route": "satellite"}}},
        {"config": {"vtj": {"direct": {"url": ""}}}},
        {"config": {"vtj": {"direct": {"url": "http://vtj-direct.example.fi/"}}}},
        {"config": {"vtj": {"direct": {"tls": {"cert_file": "/etc/org.crt", "key_file": "/etc/org.key"}}}}},
        {"config": {"vtj": {"direct": {"proxy": "http://proxy:3128"}}}},
        {"secrets": {"xroadTls": {"enabled": True, "caCrt": PEM_CERT}}},
        {"secrets": {"dvvTls": {"caFile": "/x"}}},
        {"secrets": {"dvvTls": {"existingSecretHasCaCrt": "yes"}}},
        {"networkPolicy": {"egress": {"dvv": {"namespace": "dvv"}}}},
        {"networkPolicy": {"egress": {"dvv": {"port": 70000}}}},
        {"networkPolicy": {"egress": {"dvv": {"cidrs": ["vtj.dvv.fi"]}}}},
        # the route decides the mounts and the NetworkPolicy: not to be moved behind the chart's back
        {"extraEnv": {"XROAD_VTJ__VTJ__ROUTE": "xroad"}},
        {"extraEnv": {"XROAD_VTJ__VTJ__DIRECT__URL": "https://elsewhere.example/"}},
    ],
    ids=lambda o: json.dumps(o, sort_keys=True),
)
def test_the_schema_refuses_direct_values_that_cannot_work(override: dict[str, Any]) -> None:
    with pytest.raises(HelmValuesError):
        render(direct(override))


def test_the_schema_keeps_x_road_as_the_default_and_wants_its_url_there() -> None:
    assert render(with_minimal({})).config["vtj"]["route"] == "xroad"
    with pytest.raises(HelmValuesError, match="security_server_url"):
        render(with_minimal({"config": {"xroad": {"security_server_url": None}}}))
    # …which the direct route does without.
    assert render(direct({"config": {"xroad": {"security_server_url": None}}})).has("Deployment")


NO_SECRET = {"secrets": {"dvvTls": {"tlsCrt": "", "tlsKey": ""}}}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (NO_SECRET, "secrets.dvvTls: config.vtj.route direct needs existingSecret"),
        (
            {"secrets": {"dvvTls": {"tlsKey": ""}}},
            "secrets.dvvTls: config.vtj.route direct needs existingSecret",
        ),
        ({"config": {"vtj": {"direct": {"url": ""}}}}, "config.vtj.direct.url"),
        ({"config": {"vtj": {"direct": {"url": "http://vtj-direct.example.fi/"}}}}, "https://"),
        (
            {"config": {"vtj": {"direct": {"tls": {"cert_file": "/x"}}}}},
            "config.vtj.direct.tls is set by the chart",
        ),
        (
            {"secrets": {"xroadTls": {"enabled": True, "caCrt": PEM_CERT}}},
            "secrets.xroadTls is TLS to a security",
        ),
        (
            {"secrets": {"dvvTls": {"existingSecret": "org-dvv", "caCrt": PEM_CERT}}},
            "secrets.dvvTls.caCrt goes with a chart-made secret",
        ),
        (
            {"secrets": {"dvvTls": {"existingSecretHasCaCrt": True}}},
            "secrets.dvvTls.existingSecretHasCaCrt goes with existingSecret",
        ),
        ({"networkPolicy": {"enabled": True}}, "networkPolicy.egress.dvv"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_the_templates_refuse_a_direct_route_they_cannot_deploy(
    schemaless_chart: Path, override: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmRenderError, match=message.replace(".", r"\.")):
        render(direct(override), chart_dir=schemaless_chart)


def test_the_schema_alone_does_not_let_a_direct_route_without_a_certificate_through() -> None:
    # The secret is the validate helper's (as for every secret): the schema-checked chart refuses it too.
    with pytest.raises(HelmRenderError, match=r"secrets\.dvvTls"):
        render(direct(NO_SECRET))


# --- NetworkPolicy ------------------------------------------------------------------------------------------------


def _egress(values: Manifest) -> list[Manifest]:
    egress: list[Manifest] = render(values).network_policy["spec"]["egress"]
    return egress


def test_egress_goes_to_dns_and_dvv_only_on_the_direct_route() -> None:
    dns, dvv = _egress(DIRECT)
    assert dns["ports"][0]["port"] == 53
    assert dvv == {
        "to": [{"ipBlock": {"cidr": "198.51.100.16/29"}}],
        "ports": [{"port": 8443, "protocol": "TCP"}],
    }


def test_the_security_server_is_neither_reached_nor_required_on_the_direct_route() -> None:
    values = direct(
        {
            "networkPolicy": {
                "enabled": True,
                "egress": {
                    "dvv": {"cidrs": ["198.51.100.16/29"]},
                    "securityServer": {"cidrs": ["10.20.30.40/32"], "port": 4000},
                },
            }
        }
    )
    peers = [peer for rule in _egress(values) for peer in rule["to"]]
    assert {"ipBlock": {"cidr": "10.20.30.40/32"}} not in peers
    assert all(rule["ports"][0]["port"] != 4000 for rule in _egress(values))


def test_dvv_port_follows_the_direct_url_unless_given() -> None:
    base = direct({"networkPolicy": {"enabled": True, "egress": {"dvv": {"cidrs": ["198.51.100.16/29"]}}}})
    for url, port in {"https://vtj.example.fi/SoSo": 443, "https://vtj.example.fi:9443/": 9443}.items():
        values = merged(base, {"config": {"vtj": {"direct": {"url": url}}}})
        assert _egress(values)[1]["ports"] == [{"port": port, "protocol": "TCP"}], url
    values = merged(base, {"networkPolicy": {"egress": {"dvv": {"port": 4443}}}})
    assert _egress(values)[1]["ports"] == [{"port": 4443, "protocol": "TCP"}]


def test_postgresql_egress_stays_on_the_direct_route() -> None:
    values = direct(
        {
            "config": {"audit": {"backend": "postgresql"}},
            "secrets": {
                "database": {"existingSecret": "db"},
                "databaseAdmin": {"existingSecret": "db-admin"},
            },
            "networkPolicy": {
                "enabled": True,
                "egress": {"dvv": {"cidrs": ["198.51.100.16/29"]}, "postgresql": {"cidrs": ["10.0.5.0/24"]}},
            },
        }
    )
    assert [rule["ports"][0]["port"] for rule in _egress(values)] == [53, 443, 5432]


# --- probes, alerts, helm test and NOTES ---------------------------------------------------------------------------


def test_no_route_probe_alerts_on_the_direct_route() -> None:
    rules = {
        rule["alert"]: rule
        for group in render(DIRECT).one("PrometheusRule")["spec"]["groups"]
        for rule in group["rules"]
    }
    # allowedMethods is X-Road's: the service never runs the probe here, so those series never exist.
    assert "XroadVtjRouteDown" not in rules and "XroadVtjServiceNotAllowed" not in rules
    expiry = rules["XroadVtjClientCertificateExpiring"]["annotations"]
    assert "DVV" in expiry["summary"] and "secrets.dvvTls" in expiry["description"]
    assert "security server" not in expiry["summary"] + expiry["description"]


def test_the_notes_say_check_proves_the_direct_route_with_the_product_schema() -> None:
    notes = render(DIRECT).notes
    assert "HaeTuotteenSkeema on DVV's direct service" in notes
    assert "allowedMethods" not in notes
    assert "allowedMethods on the security server" in render(with_minimal({})).notes


def test_the_helm_test_and_the_probes_are_the_same_on_both_routes() -> None:
    # Readiness (audit store, client certificate) and the helm test (/readyz) do not depend on the route.
    xroad, routed = render(with_minimal({})), render(direct())
    assert routed.one("Pod")["spec"]["containers"] == xroad.one("Pod")["spec"]["containers"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert routed.container[probe] == xroad.container[probe]
