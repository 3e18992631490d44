from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_config
from xroad_vtj.config import Quotas, load_config, parse_config
from xroad_vtj.errors import ConfigError


def raw(tmp_path: Path, **sections: Any) -> dict[str, Any]:
    return base_config(tmp_path, "http://127.0.0.1:8081/", **sections)


def test_a_valid_configuration_becomes_typed_objects(tmp_path: Path) -> None:
    config = parse_config(raw(tmp_path), tmp_path, environ={})
    assert str(config.xroad.client) == "FI-TEST/MUN/0101263-6/caseapp"
    assert config.vtj.service.service_code == "HenkilonTunnusKysely"
    assert config.vtj.password == "demo-password"
    assert config.callers[0].roles == frozenset({"query"})
    assert config.audit.backend == "sqlite"


@pytest.mark.parametrize(
    ("sections", "named"),
    [
        ({"server": {"prot": 1}}, "server.prot"),
        ({"surprise": {}}, "surprise"),
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"server": {"port": 70000}}, "server.port"),
        ({"xroad": {"client": "FI-TEST/MUN/01012!3-6/caseapp"}}, "xroad.client"),
        ({"xroad": {"security_server_url": "ftp://x/"}}, "xroad.security_server_url"),
        ({"vtj": {"service": "FI-TEST/GOV"}}, "vtj.service"),
        ({"callers": [{"name": "a", "token_sha256": "abc"}]}, "callers[0].token_sha256"),
        ({"callers": [{"name": "a", "token_sha256": "0" * 64, "roles": ["admin"]}]}, "callers[0].roles"),
        (
            {"callers": [{"name": "a", "token_sha256": "0" * 64, "quotas": {"per_year": 1}}]},
            "callers[0].quotas.per_year",
        ),
        ({"logging": {"level": "loud"}}, "logging.level"),
    ],
)
def test_an_unknown_or_invalid_key_is_refused_by_name(
    tmp_path: Path, sections: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw(tmp_path, **sections), tmp_path, environ={})
    assert named in caught.value.detail


def test_environment_variables_override_file_values(tmp_path: Path) -> None:
    config = parse_config(
        raw(tmp_path),
        tmp_path,
        environ={
            "XROAD_VTJ__SERVER__PORT": "9999",
            "XROAD_VTJ__VTJ__DEFAULT_PRODUCT": "PERUSSANOMA 3",
            "XROAD_VTJ__XROAD__TIMEOUT_SECONDS": "2.5",
            "OTHER": "x",
        },
    )
    assert config.server.port == 9999
    assert config.vtj.default_product == "PERUSSANOMA 3"
    assert config.xroad.timeout_seconds == 2.5


def test_password_written_in_the_file_earns_a_warning_but_not_from_env(tmp_path: Path) -> None:
    r = raw(tmp_path, vtj={"password": "inline-secret", "password_file": None})
    config = parse_config(r, tmp_path, environ={})
    assert any("vtj.password" in w for w in config.warnings)
    assert all("inline-secret" not in w for w in config.warnings)
    r = raw(tmp_path, vtj={"password_file": None})
    config = parse_config(r, tmp_path, environ={"XROAD_VTJ__VTJ__PASSWORD": "from-env"})
    assert config.vtj.password == "from-env"
    assert not any("vtj.password" in w for w in config.warnings)


def test_the_password_never_shows_in_repr(tmp_path: Path) -> None:
    config = parse_config(raw(tmp_path), tmp_path, environ={})
    assert "demo-password" not in repr(config)


def test_quotas_default_to_moderate_limits_and_null_switches_one_off(tmp_path: Path) -> None:
    callers = [{"name": "a", "token_sha256": "0" * 64, "quotas": {"per_caller_per_minute": None}}]
    config = parse_config(raw(tmp_path, callers=callers), tmp_path, environ={})
    quotas = config.callers[0].quotas
    assert quotas.per_caller_per_minute is None
    assert quotas.per_end_user_per_minute == Quotas().per_end_user_per_minute == 20


def test_load_config_names_a_yaml_error_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("server:\n  port: [1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "line" in caught.value.detail


def test_example_configuration_in_the_repository_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
    config = load_config(example, environ={"XROAD_VTJ__VTJ__PASSWORD": "x"})
    assert config.server.port == 8080


@pytest.mark.parametrize("secret", ["abc #x", "0123", "null", "yes", "'quoted'", "a: b"])
def test_a_secret_from_the_environment_arrives_exactly_as_written(tmp_path: Path, secret: str) -> None:
    r = raw(tmp_path, vtj={"password_file": None})
    config = parse_config(r, tmp_path, environ={"XROAD_VTJ__VTJ__PASSWORD": secret})
    assert config.vtj.password == secret
