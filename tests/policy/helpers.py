"""Helpers shared by the access-control, quota, redaction, fuzzing and hostile-upstream tests."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO, Running

QUERY_BODY = {"hetu": "010280-952L", "end_user": "tester@example.fi", "purpose": "CASE-2026-1"}


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def call(
    running: Running,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    data: bytes | None = None,
) -> tuple[int, dict[str, Any], Any]:
    """One HTTP call to the service; returns status, the decoded JSON body and the headers."""
    if method == "POST" and json is None and data is None:
        json = QUERY_BODY
    async with running.session.request(
        method, f"{running.base}{path}", headers=headers or {}, json=json, data=data
    ) as r:
        return r.status, await r.json(content_type=None), r.headers


async def metric(running: Running, name: str, **labels: str) -> float:
    """A sample read from the service's real Prometheus endpoint (0 when absent)."""
    port = running.service.metrics_port
    async with running.session.get(f"http://127.0.0.1:{port}/metrics") as r:
        assert r.status == 200
        text = await r.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def caller(name: str, token_hash: str, **policy: Any) -> dict[str, Any]:
    """A caller entry for the configuration, with every quota off unless ``quotas`` is given."""
    entry: dict[str, Any] = {
        "name": name,
        "token_sha256": token_hash,
        "products": ["PERUSSANOMA 1", "PERUSSANOMA 3"],
        "quotas": {
            "per_end_user_per_minute": None,
            "per_end_user_per_day": None,
            "per_caller_per_minute": None,
            "distinct_subjects_per_end_user_per_day": None,
        },
    }
    entry.update(policy)
    return entry


@functools.cache
def _openapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "schemas" / "openapi.yaml").read_text(encoding="utf-8"))
    return document


def assert_schema(name: str, value: Any) -> None:
    """``value`` is valid under ``components.schemas[name]`` of schemas/openapi.yaml (OpenAPI 3.1 = JSON Schema)."""
    root = {**_openapi(), "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(root).validate(value)
