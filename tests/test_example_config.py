"""config/example.yaml lists every key the service reads, callers included."""

from __future__ import annotations

import dataclasses

import yaml

from tests.helm.chart import EXAMPLE_CONFIG
from xroad_vtj.config import CallerConfig, Quotas, ServerConfig, VtjConfig, XRoadConfig

EXAMPLE = yaml.safe_load(EXAMPLE_CONFIG.read_text())


def fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_caller_key_is_in_the_example() -> None:
    caller = EXAMPLE["callers"][0]
    expected = (fields(CallerConfig) | {"token_sha256_file"}) - {"quotas"}
    assert expected <= set(caller)
    assert set(caller["quotas"]) == fields(Quotas)


def test_every_server_xroad_and_vtj_key_is_in_the_example() -> None:
    assert fields(ServerConfig) <= set(EXAMPLE["server"])
    assert fields(XRoadConfig) <= set(EXAMPLE["xroad"])
    assert fields(VtjConfig) | {"password_file"} <= set(EXAMPLE["vtj"])


def test_the_example_quotas_are_the_defaults() -> None:
    assert EXAMPLE["callers"][0]["quotas"] == dataclasses.asdict(Quotas())
