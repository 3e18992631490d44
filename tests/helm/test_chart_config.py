"""The config.yaml the chart renders is one the service accepts, and it holds no secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import (
    CI_FILES,
    DATA_DIR,
    EXAMPLE_CONFIG,
    SECRETS_DIR,
    Rendered,
    load_values,
    render,
    service_config,
)

CI_IDS = [path.name for path in CI_FILES]
FILE_SUFFIX = "_file"


def _example(text: str) -> Any:
    """The example config, with the blocks it shows commented out under a `key: null` line read as well.

    `vtj.direct` is off by default, so the example gives it as `direct: null` followed by its keys commented
    out ("#   url: …"): those keys are as much the service's as the live ones.
    """
    lines = text.splitlines()
    out: list[str] = []
    for index, line in enumerate(lines):
        key, _, rest = line.partition(":")
        block: list[str] = []
        if key.strip() and not key.lstrip().startswith("#") and rest.split("#")[0].strip() == "null":
            indent = " " * (len(key) - len(key.lstrip()))
            for following in lines[index + 1 :]:
                if not following.startswith(f"{indent}#   "):
                    break
                block.append(indent + "  " + following.removeprefix(f"{indent}#   "))
        out.append(f"{key}:" if block else line)
        out.extend(block)
    return yaml.safe_load("\n".join(out))


EXAMPLE = _example(EXAMPLE_CONFIG.read_text())


def unknown_keys(rendered: Any, example: Any, path: str = "") -> list[str]:
    """Keys of `rendered` that the example config does not have, walking both trees together.

    A key `X_file` is accepted where the example has `X` (the service reads any secret from a file that
    way); list items are checked against the example's first item.
    """
    if isinstance(rendered, dict):
        if not isinstance(example, dict):
            return [path or "$"]
        found: list[str] = []
        for key, value in rendered.items():
            where = f"{path}.{key}" if path else key
            if key in example:
                found += unknown_keys(value, example[key], where)
            elif not (key.endswith(FILE_SUFFIX) and key.removesuffix(FILE_SUFFIX) in example):
                found.append(where)
        return found
    if isinstance(rendered, list):
        if not isinstance(example, list):
            return [path]
        item_example = example[0] if example else None
        found = []
        for index, item in enumerate(rendered):
            if item_example is None and isinstance(item, dict | list):
                found.append(f"{path}[{index}]")
            elif item_example is not None:
                found += unknown_keys(item, item_example, f"{path}[{index}]")
        return found
    return []


def file_paths(config: Any, path: str = "") -> dict[str, str]:
    """Every path the config names through a *_file / *_files key."""
    found: dict[str, str] = {}
    if isinstance(config, dict):
        for key, value in config.items():
            where = f"{path}.{key}" if path else key
            if key.endswith(FILE_SUFFIX) and value is not None:
                found[where] = value
            elif key.endswith("_files"):
                found.update({f"{where}[{i}]": v for i, v in enumerate(value)})
            else:
                found.update(file_paths(value, where))
    elif isinstance(config, list):
        for index, item in enumerate(config):
            found.update(file_paths(item, f"{path}[{index}]"))
    return found


@pytest.fixture(params=CI_FILES, ids=CI_IDS)
def ci_rendered(request: pytest.FixtureRequest) -> Rendered:
    path: Path = request.param
    return render(load_values(path))


def test_the_key_walk_finds_a_key_the_example_does_not_have() -> None:
    assert unknown_keys({"server": {"port": 1, "prot": 2}, "callers": [{"nam": "x"}]}, EXAMPLE) == [
        "server.prot",
        "callers[0].nam",
    ]
    assert (
        unknown_keys({"vtj": {"password_file": "/x"}, "callers": [{"token_sha256_file": "/y"}]}, EXAMPLE)
        == []
    )


def test_the_example_shows_the_direct_routes_keys_commented_out() -> None:
    assert EXAMPLE["vtj"]["direct"]["url"].startswith("https://")
    assert set(EXAMPLE["vtj"]["direct"]["tls"]) == {"ca_file", "cert_file", "key_file"}
    assert EXAMPLE["vtj"]["route"] == "xroad" and EXAMPLE["audit"]["dsn"] is None


def test_rendered_config_parses_as_a_yaml_mapping(ci_rendered: Rendered) -> None:
    assert isinstance(ci_rendered.config, dict)


def test_rendered_config_uses_only_keys_of_the_example_config(ci_rendered: Rendered) -> None:
    # The example shows a minimal caller; callers are checked by the service's own loader below.
    config = {key: value for key, value in ci_rendered.config.items() if key != "callers"}
    assert unknown_keys(config, EXAMPLE) == []


def test_rendered_config_loads_through_the_services_own_loader(ci_rendered: Rendered, tmp_path: Path) -> None:
    config = service_config(ci_rendered, tmp_path)
    assert [c.name for c in config.callers] == [c["name"] for c in ci_rendered.config["callers"]]
    assert config.server.host == "0.0.0.0"  # noqa: S104


def test_rendered_config_listens_on_all_interfaces(ci_rendered: Rendered) -> None:
    # A pod is reached on its own interface, not on loopback.
    assert ci_rendered.config["server"]["host"] == "0.0.0.0"  # noqa: S104


def test_every_file_the_config_names_lies_in_a_mounted_secret_directory(ci_rendered: Rendered) -> None:
    mounted = {
        m["mountPath"]
        for m in ci_rendered.container["volumeMounts"]
        if m["name"].startswith("secret-") and m["readOnly"]
    }
    paths = file_paths(ci_rendered.config)
    assert paths, "the config names no secret file"
    for key, path in paths.items():
        assert path.startswith(f"{SECRETS_DIR}/"), key
        assert str(Path(path).parent) in mounted, key


def test_audit_data_is_written_to_the_data_volume(ci_rendered: Rendered) -> None:
    audit = ci_rendered.config["audit"]
    assert audit["checkpoint_dir"] == f"{DATA_DIR}/checkpoints"
    if audit["backend"] == "sqlite":
        assert audit["sqlite_path"] == f"{DATA_DIR}/audit.sqlite3"
        assert "dsn" not in audit and "dsn_file" not in audit
    else:
        assert audit["dsn_file"] == f"{SECRETS_DIR}/db/dsn"
        assert "sqlite_path" not in audit


def test_no_secret_value_appears_in_the_config_map() -> None:
    values = load_values(next(p for p in CI_FILES if p.name == "mtls-values.yaml"))
    config_maps = "\n".join(yaml.safe_dump(cm) for cm in render(values).all("ConfigMap"))
    secrets = values["secrets"]
    for secret_value in (
        secrets["vtj"]["password"],
        *secrets["callers"]["tokenSha256"].values(),
        secrets["audit"]["dataKey"],
        *secrets["audit"]["previousDataKeys"],
        "-----BEGIN",
    ):
        assert secret_value not in config_maps


def test_chart_made_secrets_hold_the_keys_the_config_reads() -> None:
    rendered = render(load_values(next(p for p in CI_FILES if p.name == "mtls-values.yaml")))
    secret_keys = {
        volume["name"].removeprefix("secret-"): set(
            rendered.one("Secret", volume["secret"]["secretName"])["data"]
        )
        for volume in rendered.pod_spec["volumes"]
        if "secret" in volume
    }
    for key, path in file_paths(rendered.config).items():
        directory, name = Path(path).parent.name, Path(path).name
        assert name in secret_keys[directory], key


def test_mtls_to_the_security_server_names_ca_certificate_and_key(ci_rendered: Rendered) -> None:
    tls = ci_rendered.config["xroad"].get("tls")
    if tls is None:
        return
    assert tls["ca_file"] == f"{SECRETS_DIR}/xroad-tls/ca.crt"
    if "cert_file" in tls:
        assert tls["cert_file"] == f"{SECRETS_DIR}/xroad-tls/tls.crt"
        assert tls["key_file"] == f"{SECRETS_DIR}/xroad-tls/tls.key"


def test_mtls_values_configure_client_certificates_both_ways() -> None:
    config = render(load_values(next(p for p in CI_FILES if p.name == "mtls-values.yaml"))).config
    assert set(config["xroad"]["tls"]) == {"ca_file", "cert_file", "key_file"}
    assert set(config["server"]["tls"]) == {"cert_file", "key_file", "client_ca_file"}
    assert config["audit"]["previous_data_key_files"] == [f"{SECRETS_DIR}/audit/previous-0.key"]


def test_callers_read_their_token_hash_from_the_callers_secret() -> None:
    config = render(load_values(next(p for p in CI_FILES if p.name == "postgresql-ha-values.yaml"))).config
    assert config["callers"] == [
        {
            "name": "caseapp",
            "token_sha256_file": f"{SECRETS_DIR}/callers/caseapp",
            "roles": ["query"],
            "products": ["PERUSSANOMA 1"],
        },
        {
            "name": "auditor",
            "token_sha256_file": f"{SECRETS_DIR}/callers/auditor",
            "roles": ["auditor"],
            "products": [],
        },
    ]
    assert config["audit"]["previous_data_key_files"] == [f"{SECRETS_DIR}/audit/data-2025.key"]


def test_values_that_look_like_other_yaml_types_stay_strings() -> None:
    values = load_values(next(p for p in CI_FILES if p.name == "defaults-values.yaml"))
    values["config"] = {"vtj": {"username": "yes", "default_product": "1", "service": "A/B/C/D/E"}}
    vtj = render(values).config["vtj"]
    assert (vtj["username"], vtj["default_product"]) == ("yes", "1")
