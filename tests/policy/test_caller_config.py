"""The callers' policy is validated at start: every mistake stops the program with a message naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, base_config
from xroad_vtj.config import Quotas, parse_config
from xroad_vtj.errors import ConfigError

HASH = "ab" * 32


def with_callers(tmp_path: Path, *callers: dict[str, Any], **server: Any) -> dict[str, Any]:
    raw = base_config(tmp_path, "http://127.0.0.1:8081/")
    raw["callers"] = list(callers)
    if server:
        raw["server"] = {**raw["server"], **server}
    return raw


@pytest.mark.parametrize(
    ("caller", "named"),
    [
        ({"name": "a", "token_sha256": HASH, "product": ["PERUSSANOMA 1"]}, "callers[0].product"),
        ({"token_sha256": HASH}, "callers[0].name"),
        ({"name": "a"}, "callers[0]: needs token_sha256"),
        ({"name": "a", "token_sha256": "not hex" * 9}, "callers[0].token_sha256"),
        ({"name": "a", "token_sha256": HASH, "roles": []}, "callers[0].roles"),
        ({"name": "a", "token_sha256": HASH, "roles": ["query", "root"]}, "callers[0].roles"),
        ({"name": "a", "token_sha256": HASH, "roles": "query"}, "callers[0].roles"),
        ({"name": "a", "token_sha256": HASH, "products": "PERUSSANOMA 1"}, "callers[0].products"),
        ({"name": "a", "token_sha256": HASH, "products": ["PERUSSANOMA 1", " "]}, "callers[0].products"),
        ({"name": "a", "token_sha256": HASH, "products": [1]}, "callers[0].products"),
        ({"name": "a", "token_sha256": HASH, "purpose_pattern": "([A-Z]"}, "callers[0].purpose_pattern"),
        ({"name": "a", "token_sha256": HASH, "end_user_pattern": "([a-z]"}, "callers[0].end_user_pattern"),
        ({"name": "a", "token_sha256": HASH, "end_user_pattern": 5}, "callers[0].end_user_pattern"),
        (
            {"name": "a", "token_sha256": HASH, "reveal_protected_addresses": "yes"},
            "reveal_protected_addresses",
        ),
        (
            {"name": "a", "token_sha256": HASH, "quotas": {"per_end_user_per_minute": 0}},
            "per_end_user_per_minute",
        ),
        ({"name": "a", "token_sha256": HASH, "quotas": {"per_end_user_per_day": -5}}, "per_end_user_per_day"),
        (
            {"name": "a", "token_sha256": HASH, "quotas": {"per_caller_per_minute": "many"}},
            "per_caller_per_minute",
        ),
        (
            {"name": "a", "token_sha256": HASH, "quotas": {"distinct_subjects_per_end_user_per_day": True}},
            "distinct_subjects_per_end_user_per_day",
        ),
        ({"name": "a", "token_sha256": HASH, "quotas": [20]}, "callers[0].quotas"),
        ({"name": "a", "cert_fingerprint_sha256": "12:34"}, "callers[0].cert_fingerprint_sha256"),
    ],
)
def test_a_wrong_caller_setting_stops_the_start_naming_the_key(
    tmp_path: Path, caller: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(with_callers(tmp_path, caller), tmp_path, environ={})
    assert named in caught.value.detail


def test_two_callers_may_share_neither_a_name_nor_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="names must be unique"):
        parse_config(
            with_callers(
                tmp_path, {"name": "a", "token_sha256": HASH}, {"name": "a", "token_sha256": "cd" * 32}
            ),
            tmp_path,
            environ={},
        )
    with pytest.raises(ConfigError, match="share one token"):
        parse_config(
            with_callers(
                tmp_path, {"name": "a", "token_sha256": HASH}, {"name": "b", "token_sha256": HASH.upper()}
            ),
            tmp_path,
            environ={},
        )


@pytest.mark.parametrize("tls", [None, {"cert_file": "s.pem", "key_file": "s.key"}])
def test_a_certificate_only_caller_needs_a_listener_asking_for_client_certificates(
    tmp_path: Path, tls: dict[str, str] | None
) -> None:
    raw = with_callers(tmp_path, {"name": "a", "cert_subject": "CN=a"}, tls=tls)
    with pytest.raises(ConfigError, match="client_ca_file"):
        parse_config(raw, tmp_path, environ={})


def test_a_token_hash_file_is_read_and_its_newline_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.sha256").write_text(HASH + "\n")
    config = parse_config(
        with_callers(tmp_path, {"name": "a", "token_sha256_file": "a.sha256"}), tmp_path, environ={}
    )
    assert config.callers[0].token_sha256 == bytes.fromhex(HASH)


def test_the_defaults_of_a_minimal_caller_are_the_safe_ones(tmp_path: Path) -> None:
    (caller,) = parse_config(
        with_callers(tmp_path, {"name": "a", "token_sha256": HASH}), tmp_path, environ={}
    ).callers
    assert caller.roles == frozenset({"query"})
    assert caller.products == ()  # no permit, no product: every query is refused until products are listed
    assert caller.reveal_protected_addresses is False
    assert caller.purpose_pattern is None
    assert caller.quotas == Quotas(
        per_end_user_per_minute=20,
        per_end_user_per_day=300,
        per_caller_per_minute=1200,
        distinct_subjects_per_end_user_per_day=200,
    )


def test_a_fingerprint_is_normalised_to_lower_case_hex_without_colons(tmp_path: Path) -> None:
    fingerprint = ":".join(["AB"] * 32)
    raw = with_callers(
        tmp_path,
        {"name": "a", "cert_fingerprint_sha256": fingerprint},
        tls={"cert_file": "s.pem", "key_file": "s.key", "client_ca_file": "ca.pem"},
    )
    assert parse_config(raw, tmp_path, environ={}).callers[0].cert_fingerprint_sha256 == "ab" * 32


def test_the_readme_permit_example_is_a_valid_caller(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("**The data permit.**", 1)[1]
    example = yaml.safe_load(section.split("```yaml", 1)[1].split("```", 1)[0])
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "caseapp.token.sha256").write_text(HASH + "\n")
    raw = with_callers(tmp_path, *example["callers"])
    (caller,) = parse_config(raw, tmp_path, environ={}).callers
    assert caller.products == ("PERUSSANOMA 1", "PERUSSANOMA 3")
    assert caller.purpose_pattern is not None and caller.purpose_pattern.fullmatch("SOS-2026-123")
    assert caller.quotas.per_caller_per_minute == 600
