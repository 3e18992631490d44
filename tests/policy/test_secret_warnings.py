"""A secret written into the configuration file earns a warning in ``xroad-vtj check`` and at ``serve`` start;
the secret itself is never printed."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.conftest import TOKEN, Sim, base_config, sha
from tests.policy.processes import start_service_process
from xroad_vtj.audit.signing import create_signing_identity
from xroad_vtj.check import run_check
from xroad_vtj.config import load_config, parse_config
from xroad_vtj.demo import _write_demo_files
from xroad_vtj.secret_warnings import deployment_warnings

PASSWORD = "inline-vtj-password-123"
DSN_PASSWORD = "dsn-secret-456"


def with_secrets_inline(tmp_path: Path, url: str) -> dict[str, Any]:
    raw = base_config(tmp_path, url)
    raw["vtj"] = {**raw["vtj"], "password": PASSWORD}
    del raw["vtj"]["password_file"]
    return raw


def warnings_for(raw: dict[str, Any], tmp_path: Path, environ: dict[str, str] | None = None) -> list[str]:
    return list(parse_config(raw, tmp_path, environ=environ or {}).warnings)


def test_each_kind_of_inline_secret_is_named_in_a_warning(tmp_path: Path) -> None:
    raw = with_secrets_inline(tmp_path, "http://127.0.0.1:1/")
    raw["audit"] = {
        "backend": "postgresql",
        "dsn": f"postgresql://app:{DSN_PASSWORD}@db/audit",
        "data_key_file": "k",
        "signing_key_file": "s",
        "signing_cert_file": "c",
        "checkpoint_dir": "d",
    }
    warnings = warnings_for(raw, tmp_path)
    assert any(w.startswith("vtj.password ") for w in warnings)
    assert any(w.startswith("audit.dsn ") for w in warnings)
    for index, name in enumerate(("caseapp", "auditor", "operator")):
        assert any(w.startswith(f"callers[{index}].token_sha256 ") for w in warnings), name
    text = "\n".join(warnings)
    assert PASSWORD not in text and DSN_PASSWORD not in text and sha("test-token-caseapp") not in text


def test_secrets_in_files_or_only_in_the_environment_earn_no_warning(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "http://127.0.0.1:1/")
    for i, caller in enumerate(raw["callers"]):
        path = tmp_path / f"token-{i}"
        path.write_text(caller.pop("token_sha256") + "\n")
        caller["token_sha256_file"] = str(path)
    raw["audit"] = {**raw["audit"], "dsn": "postgresql://app@db/audit"}  # no password in it: not a secret
    assert warnings_for(raw, tmp_path) == []
    raw["vtj"] = {k: v for k, v in raw["vtj"].items() if k != "password_file"}
    env = {
        "XROAD_VTJ__VTJ__PASSWORD": PASSWORD,
        "XROAD_VTJ__AUDIT__DSN": f"postgresql://app:{DSN_PASSWORD}@db/a",
    }
    assert warnings_for(raw, tmp_path, env) == []


def test_a_secret_in_the_file_is_warned_about_even_when_the_environment_overrides_it(tmp_path: Path) -> None:
    raw = with_secrets_inline(tmp_path, "http://127.0.0.1:1/")
    raw["audit"] = {**raw["audit"], "dsn": f"postgresql://app:{DSN_PASSWORD}@db/audit"}
    env = {"XROAD_VTJ__VTJ__PASSWORD": "from-env", "XROAD_VTJ__AUDIT__DSN": "postgresql://app@db/audit"}
    warnings = warnings_for(raw, tmp_path, env)
    for key in ("vtj.password", "audit.dsn"):
        [line] = [w for w in warnings if w.startswith(key + " ")]
        assert "the environment overrides it, but the file still holds it" in line
    assert PASSWORD not in "\n".join(warnings) and DSN_PASSWORD not in "\n".join(warnings)


def _deployment(tmp_path: Path, raw: dict[str, Any]) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return deployment_warnings(load_config(path), environ={})


def test_secret_files_readable_by_group_or_others_are_named_with_their_mode(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "https://127.0.0.1:1/")
    token = tmp_path / "token-0"
    token.write_text(raw["callers"][0].pop("token_sha256") + "\n")
    raw["callers"][0]["token_sha256_file"] = "token-0"  # relative to the configuration file
    (tmp_path / "pw").chmod(0o640)
    token.chmod(0o604)
    warnings = _deployment(tmp_path, raw)
    assert any(
        w.startswith(f"vtj.password_file ({tmp_path / 'pw'}) is readable") and "0640" in w for w in warnings
    )
    assert any(w.startswith("callers[0].token_sha256_file") and "0604" in w for w in warnings)
    (tmp_path / "pw").chmod(0o600)
    token.chmod(0o600)
    assert not [w for w in _deployment(tmp_path, raw) if "readable by group or others" in w]


def test_plain_http_to_the_security_server_is_warned_about_but_allowed(tmp_path: Path) -> None:
    (tmp_path / "pw").touch(mode=0o600)
    http = _deployment(tmp_path, base_config(tmp_path, "http://127.0.0.1:1/"))
    assert any(w.startswith("xroad.security_server_url uses plain http://") for w in http)
    https = _deployment(tmp_path, base_config(tmp_path, "https://127.0.0.1:1/"))
    assert not any("plain http" in w for w in https)


def test_a_signing_key_beside_the_sqlite_database_is_warned_about(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "https://127.0.0.1:1/")
    beside = _deployment(tmp_path, raw)  # the default: created next to the database
    assert any(
        w.startswith("audit.signing_key_file") and "same directory as the SQLite database" in w
        for w in beside
    )
    keys = tmp_path / "elsewhere"
    raw["audit"] = {
        **raw["audit"],
        "data_key_file": str(keys / "data.key"),
        "signing_key_file": str(keys / "signing.key"),
        "signing_cert_file": str(keys / "signing.crt"),
    }
    assert not any("same directory" in w for w in _deployment(tmp_path, raw))


def test_a_group_readable_signing_key_is_warned_about(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "https://127.0.0.1:1/")
    keys = tmp_path / "keys"
    keys.mkdir()
    create_signing_identity(keys / "signing.key", keys / "signing.crt")
    raw["audit"] = {
        **raw["audit"],
        "signing_key_file": str(keys / "signing.key"),
        "signing_cert_file": str(keys / "signing.crt"),
    }
    assert not any("signing_key_file" in w for w in _deployment(tmp_path, raw))
    (keys / "signing.key").chmod(0o644)
    assert any(w.startswith("audit.signing_key_file") and "0644" in w for w in _deployment(tmp_path, raw))


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://app:{DSN_PASSWORD}@db:5432/audit",
        f"host=db user=app password={DSN_PASSWORD} dbname=audit",
        f"postgresql://app@db/audit?sslmode=require&password={DSN_PASSWORD}",
    ],
)
def test_a_dsn_carrying_a_password_in_any_form_is_warned_about(tmp_path: Path, dsn: str) -> None:
    raw = base_config(tmp_path, "http://127.0.0.1:1/")
    raw["audit"] = {**raw["audit"], "dsn": dsn}
    assert [w for w in warnings_for(raw, tmp_path) if w.startswith("audit.dsn")]


async def test_check_prints_the_warnings_and_never_the_secret(simulator: Sim, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(with_secrets_inline(tmp_path, simulator.url)))
    out = io.StringIO()
    code = await run_check(str(path), out)
    report = out.getvalue()
    assert code == 0, report
    warn_lines = [line for line in report.splitlines() if line.startswith("warn ")]
    assert any("vtj.password" in line and "password_file" in line for line in warn_lines)
    assert any("callers[0].token_sha256" in line for line in warn_lines)
    assert PASSWORD not in report and sha("test-token-caseapp") not in report


@pytest.mark.slow
async def test_serve_logs_the_warning_at_start_and_never_a_secret(simulator: Sim, tmp_path: Path) -> None:
    simulator.state.password = PASSWORD
    service = await start_service_process(with_secrets_inline(tmp_path, simulator.url), tmp_path, "warned")
    wrong = "wrong-secret-token-0123456789"
    try:
        async with aiohttp.ClientSession() as session:
            for token in (TOKEN, wrong):
                body = {"hetu": "260991-999R", "end_user": "officer.1", "purpose": "CASE-2026-1"}
                url = f"{service.base}/v1/person-queries"
                async with session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == (200 if token == TOKEN else 401)
    finally:
        await service.stop()
    log = service.log.read_text()
    assert "secret_in_config_file" in log
    assert "deployment_warning" in log and "plain http://" in log  # the simulator is reached over http
    assert "vtj.password" in log
    assert '"status": 401' in log  # the refused call was logged ...
    for secret in (PASSWORD, TOKEN, wrong, sha(TOKEN), "260991-999R"):
        assert secret not in log  # ... and nothing secret or personal with it


def test_the_demo_writes_its_password_file_for_its_owner_only(tmp_path: Path) -> None:
    (tmp_path / "vtj-password").write_text("old\n")
    (tmp_path / "vtj-password").chmod(0o644)  # left by an older demo
    _write_demo_files(tmp_path, 18080)
    assert stat.S_IMODE((tmp_path / "vtj-password").stat().st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_a_secret_read_through_its_group_as_kubernetes_mounts_it_is_not_warned_about(tmp_path: Path) -> None:
    raw = base_config(tmp_path, "https://127.0.0.1:1/")
    password = tmp_path / "pw"
    os.chown(password, 65534, os.getegid())  # owner someone else, group ours (fsGroup), 0440
    password.chmod(0o440)
    assert not [w for w in _deployment(tmp_path, raw) if w.startswith("vtj.password_file")]
    password.chmod(0o444)  # others too
    assert [w for w in _deployment(tmp_path, raw) if w.startswith("vtj.password_file")]
