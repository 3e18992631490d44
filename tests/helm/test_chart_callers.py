"""Callers in the chart: every key of the service's caller policy, token and certificate callers, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helm_python import HelmRenderError, HelmValuesError

from tests.helm.chart import (
    CHART_DIR,
    FULLNAME,
    SECRETS_DIR,
    Manifest,
    Rendered,
    load_values,
    merged,
    render,
    service_config,
    with_minimal,
)
from xroad_vtj.config import Quotas, _caller

TOKEN_A = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
TOKEN_B = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
FINGERPRINT = ":".join(["B3", "42", "0C", "7E"] * 8)
SUBJECT = "CN=portal.example.fi,O=Kunta,C=FI"
PEM = "-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n"
SERVER_MTLS: Manifest = {"enabled": True, "clientAuth": True, "tlsCrt": PEM, "tlsKey": PEM, "caCrt": PEM}

EVERY_KEY: Manifest = {
    "name": "portal",
    "cert_subject": SUBJECT,
    "cert_fingerprint_sha256": FINGERPRINT,
    "roles": ["query", "auditor"],
    "products": ["PERUSSANOMA 1", "PERUSSANOMA 3"],
    "reveal_protected_addresses": True,
    "purpose_pattern": "^[A-Z]{2,8}-[0-9]{4}-[0-9]+$",
    "end_user_pattern": "[a-z]+[.][a-z]+",
    "non_unique_search": True,
    "quotas": {
        "per_end_user_per_minute": 10,
        "per_end_user_per_day": None,
        "per_caller_per_minute": 600,
        "distinct_subjects_per_end_user_per_day": 100,
    },
}


def values(
    callers: list[Manifest], tokens: dict[str, str] | None = None, server_tls: Manifest = SERVER_MTLS
) -> Manifest:
    """Minimal values with these callers and token hashes; TLS with client certificates on the API port."""
    return with_minimal(
        {"callers": callers, "secrets": {"callers": {"tokenSha256": tokens or {}}, "serverTls": server_tls}}
    )


def config_text(rendered: Rendered) -> str:
    text: str = rendered.one("ConfigMap", FULLNAME)["data"]["config.yaml"]
    return text


def callers_secret(rendered: Rendered) -> Manifest | None:
    found = [s for s in rendered.all("Secret") if s["metadata"]["name"] == f"{FULLNAME}-callers"]
    return found[0] if found else None


def mounted_secret_directories(rendered: Rendered) -> set[str]:
    return {v["name"].removeprefix("secret-") for v in rendered.pod_spec["volumes"] if "secret" in v}


def test_a_caller_with_every_key_renders_each_key_as_given(tmp_path: Path) -> None:
    rendered = render(values([EVERY_KEY, {"name": "caseapp", "roles": ["query"]}], {"caseapp": TOKEN_A}))
    assert rendered.config["callers"] == [
        {**EVERY_KEY},
        {
            "name": "caseapp",
            "token_sha256_file": f"{SECRETS_DIR}/callers/caseapp",
            "roles": ["query"],
            "products": [],
        },
    ]
    # The service's own reader accepts the rendered caller, and reads each key as meant.
    portal = _caller(rendered.config["callers"][0], 0, tmp_path, [])
    assert portal.token_sha256 is None
    assert portal.cert_subject == SUBJECT
    assert portal.cert_fingerprint_sha256 == FINGERPRINT.replace(":", "").lower()
    assert portal.roles == frozenset({"query", "auditor"})
    assert portal.products == ("PERUSSANOMA 1", "PERUSSANOMA 3")
    assert portal.reveal_protected_addresses is True
    assert (
        portal.purpose_pattern is not None and portal.purpose_pattern.pattern == EVERY_KEY["purpose_pattern"]
    )
    assert portal.end_user_pattern is not None and portal.end_user_pattern.pattern == "[a-z]+[.][a-z]+"
    assert portal.non_unique_search is True
    assert portal.quotas == Quotas(
        per_end_user_per_minute=10,
        per_end_user_per_day=None,
        per_caller_per_minute=600,
        distinct_subjects_per_end_user_per_day=100,
    )
    # And the whole config, with the secret files the pod would have, loads.
    loaded = service_config(rendered, tmp_path)
    assert [c.name for c in loaded.callers] == ["portal", "caseapp"]
    assert loaded.callers[1].token_sha256 == bytes.fromhex(TOKEN_A)


def test_a_null_quota_is_rendered_as_yaml_null_and_switches_the_quota_off(tmp_path: Path) -> None:
    caller = {
        "name": "portal",
        "roles": ["query"],
        "cert_subject": SUBJECT,
        "quotas": {"per_end_user_per_day": None},
    }
    rendered = render(values([caller]))
    assert "per_end_user_per_day: null" in config_text(rendered)
    assert rendered.config["callers"][0]["quotas"] == {"per_end_user_per_day": None}
    quotas = service_config(rendered, tmp_path).callers[0].quotas
    assert quotas == Quotas(per_end_user_per_day=None)


def test_keys_left_out_are_not_rendered_so_the_service_defaults_apply(tmp_path: Path) -> None:
    rendered = render(values([{"name": "caseapp", "roles": ["query"]}], {"caseapp": TOKEN_A}))
    assert set(rendered.config["callers"][0]) == {"name", "token_sha256_file", "roles", "products"}
    caller = service_config(rendered, tmp_path).callers[0]
    assert caller.quotas == Quotas()
    assert caller.reveal_protected_addresses is False
    assert caller.purpose_pattern is None
    assert (caller.cert_subject, caller.cert_fingerprint_sha256) == (None, None)


def test_an_explicit_false_and_an_empty_quotas_map_are_rendered_as_given() -> None:
    caller = {"name": "caseapp", "roles": ["query"], "reveal_protected_addresses": False, "quotas": {}}
    rendered = render(values([caller], {"caseapp": TOKEN_A})).config["callers"][0]
    assert (rendered["reveal_protected_addresses"], rendered["quotas"]) == (False, {})


def test_a_certificate_only_caller_needs_no_token_and_gets_no_token_file() -> None:
    rendered = render(
        values([{"name": "portal", "cert_fingerprint_sha256": FINGERPRINT, "roles": ["query"]}])
    )
    assert "token_sha256_file" not in rendered.config["callers"][0]
    # No token caller at all: no callers secret is made or mounted.
    assert callers_secret(rendered) is None
    assert "callers" not in mounted_secret_directories(rendered)


def test_the_callers_secret_holds_the_token_callers_only() -> None:
    rendered = render(
        values(
            [
                {"name": "caseapp", "roles": ["query"]},
                {"name": "portal", "cert_subject": SUBJECT, "roles": ["query"]},
            ],
            {"caseapp": TOKEN_A},
        )
    )
    secret = callers_secret(rendered)
    assert secret is not None and set(secret["data"]) == {"caseapp"}
    assert "callers" in mounted_secret_directories(rendered)


def test_a_caller_with_a_token_entry_and_a_certificate_gets_both(tmp_path: Path) -> None:
    caller = {"name": "portal", "cert_subject": SUBJECT, "roles": ["query"]}
    rendered = render(values([caller], {"portal": TOKEN_B}))
    assert rendered.config["callers"][0]["token_sha256_file"] == f"{SECRETS_DIR}/callers/portal"
    loaded = service_config(rendered, tmp_path).callers[0]
    assert (loaded.token_sha256, loaded.cert_subject) == (bytes.fromhex(TOKEN_B), SUBJECT)


def test_with_an_existing_callers_secret_certificate_callers_are_certificate_only() -> None:
    rendered = render(
        with_minimal(
            {
                "callers": [
                    {"name": "caseapp", "roles": ["query"]},
                    {"name": "portal", "cert_subject": SUBJECT, "roles": ["query"]},
                ],
                "secrets": {"callers": {"existingSecret": "xroad-vtj-callers"}, "serverTls": SERVER_MTLS},
            }
        )
    )
    files = [c.get("token_sha256_file") for c in rendered.config["callers"]]
    assert files == [f"{SECRETS_DIR}/callers/caseapp", None]


def test_the_mtls_ci_values_carry_a_certificate_caller_the_service_accepts(tmp_path: Path) -> None:
    rendered = render(load_values(CHART_DIR / "ci" / "mtls-values.yaml"))
    portal = next(c for c in service_config(rendered, tmp_path).callers if c.name == "portal")
    assert portal.token_sha256 is None
    assert portal.cert_subject is not None and portal.cert_fingerprint_sha256 is not None
    assert portal.quotas.per_end_user_per_day is None
    assert "per_end_user_per_day: null" in config_text(rendered)


NO_SERVER_TLS: Manifest = {"enabled": False, "clientAuth": False}
NO_CLIENT_AUTH: Manifest = {"enabled": True, "clientAuth": False, "tlsCrt": PEM, "tlsKey": PEM}


@pytest.mark.parametrize(
    "caller",
    [
        {"cert_fingerprint_sha256": "B3:42"},
        {"cert_fingerprint_sha256": "z" * 64},
        {"cert_subject": "portal.example.fi"},
        {"cert_subject": ""},
        {"reveal_protected_addresses": "yes"},
        {"purpose_pattern": ""},
        {"purpose_pattern": 5},
        {"quotas": {"per_end_user_per_minute": 0}},
        {"quotas": {"per_end_user_per_day": 1.5}},
        {"quotas": {"per_caller_per_minute": "600"}},
        {"quotas": {"per_minute": 5}},
        {"quotas": None},
        {"token_sha256_file": "/x"},
    ],
    ids=lambda c: json.dumps(c, sort_keys=True),
)
def test_caller_values_of_the_wrong_shape_are_refused_by_the_schema(caller: Manifest) -> None:
    with pytest.raises(HelmValuesError):
        render(values([{"name": "portal", "roles": ["query"], "cert_subject": SUBJECT, **caller}]))


@pytest.mark.parametrize("server_tls", [NO_SERVER_TLS, NO_CLIENT_AUTH], ids=["no-tls", "no-client-auth"])
@pytest.mark.parametrize("identity", ["cert_subject", "cert_fingerprint_sha256"])
def test_a_certificate_caller_without_client_certificate_tls_is_refused_by_the_schema(
    server_tls: Manifest, identity: str
) -> None:
    value = SUBJECT if identity == "cert_subject" else FINGERPRINT
    with pytest.raises(HelmValuesError, match="/secrets/serverTls/clientAuth': value must be true"):
        render(values([{"name": "portal", "roles": ["query"], identity: value}], server_tls=server_tls))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            values(
                [{"name": "portal", "roles": ["query"], "cert_subject": SUBJECT}], server_tls=NO_CLIENT_AUTH
            ),
            "caller portal is matched by its client certificate: set secrets.serverTls.enabled and "
            "secrets.serverTls.clientAuth",
        ),
        (
            values(
                [{"name": "portal", "roles": ["query"], "cert_fingerprint_sha256": FINGERPRINT}],
                server_tls=NO_SERVER_TLS,
            ),
            "caller portal is matched by its client certificate",
        ),
        (
            values([{"name": "app", "roles": ["query"]}]),
            "secrets.callers.tokenSha256 has no entry for caller app",
        ),
        (
            values([{"name": "app", "roles": ["query"]}], {"app": TOKEN_A, "apq": TOKEN_B}),
            "secrets.callers.tokenSha256 has an entry for apq, which is no caller",
        ),
        (
            values(
                [{"name": "a", "roles": ["query"]}, {"name": "b", "roles": ["query"]}],
                {"a": TOKEN_A, "b": TOKEN_A.upper()},
            ),
            "secrets.callers.tokenSha256: two callers share one token",
        ),
        (
            merged(
                values([{"name": "portal", "roles": ["query"], "cert_subject": SUBJECT}]),
                {"secrets": {"callers": {"certificateCallersWithToken": ["portal"]}}},
            ),
            "secrets.callers.certificateCallersWithToken goes with existingSecret only",
        ),
        (
            merged(
                values([{"name": "app", "roles": ["query"]}]),
                {"secrets": {"callers": {"existingSecret": "c", "certificateCallersWithToken": ["app"]}}},
            ),
            "secrets.callers.certificateCallersWithToken names app, which is no caller with cert_subject",
        ),
    ],
    ids=[
        "certificate-without-client-auth",
        "certificate-without-tls",
        "token-missing",
        "stray-token",
        "shared",
        "token-list-without-existing-secret",
        "token-list-names-a-token-caller",
    ],
)
def test_templates_refuse_caller_settings_the_service_cannot_run_with_a_clear_message(
    schemaless_chart: Path, override: Manifest, message: str
) -> None:
    with pytest.raises(HelmRenderError, match=message.replace(".", r"\.")):
        render(override, chart_dir=schemaless_chart)


def test_the_documented_callers_example_in_values_yaml_renders_and_loads(tmp_path: Path) -> None:
    """The commented example under `callers:` in values.yaml is valid as written."""
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    start = lines.index("callers: []") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line.removeprefix("#"))
    callers = yaml.safe_load("\n".join(block))
    loaded = service_config(render(values(callers, {"caseapp": TOKEN_A})), tmp_path)
    assert [c.name for c in loaded.callers] == ["caseapp", "registry-portal"]
    assert loaded.callers[0].quotas == Quotas()


def test_an_existing_callers_secret_can_hold_tokens_of_named_certificate_callers(tmp_path: Path) -> None:
    rendered = render(
        with_minimal(
            {
                "callers": [
                    {"name": "portal", "cert_subject": SUBJECT, "roles": ["query"]},
                    {"name": "kiosk", "cert_fingerprint_sha256": FINGERPRINT, "roles": ["query"]},
                ],
                "secrets": {
                    "callers": {
                        "existingSecret": "xroad-vtj-callers",
                        "certificateCallersWithToken": ["portal"],
                    },
                    "serverTls": SERVER_MTLS,
                },
            }
        )
    )
    files = [c.get("token_sha256_file") for c in rendered.config["callers"]]
    assert files == [f"{SECRETS_DIR}/callers/portal", None]
    assert "callers" in mounted_secret_directories(rendered)
    loaded = service_config(rendered, tmp_path).callers
    assert (loaded[0].token_sha256 is not None, loaded[1].token_sha256) == (True, None)


def test_the_callers_example_of_the_operations_guide_renders_and_loads(tmp_path: Path) -> None:
    guide = (CHART_DIR.parents[1] / "docs" / "operations.md").read_text()
    block = guide.split("### Callers", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    example = yaml.safe_load(block.replace("<hex SHA-256 of caseapp's token>", TOKEN_A))
    example["secrets"]["serverTls"].update(tlsCrt=PEM, tlsKey=PEM, caCrt=PEM)
    loaded = service_config(render(with_minimal(example)), tmp_path).callers
    assert [(c.name, c.token_sha256 is not None, c.cert_subject is not None) for c in loaded] == [
        ("caseapp", True, False),
        ("portal", False, True),
    ]
    assert loaded[0].quotas.per_end_user_per_day is None
