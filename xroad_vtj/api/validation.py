"""Strict validation of the person-query JSON, before any I/O."""

from __future__ import annotations

import json
from typing import Any

from xroad_vtj.errors import InvalidRequest
from xroad_vtj.query import PersonQuery
from xroad_vtj.vtj import parse_hetu

FIELDS = {"hetu", "product", "end_user", "purpose"}
LIMITS = {"end_user": 50, "purpose": 200, "product": 100}


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two "hetu" keys would let a proxy and this service read different requests out of one body.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def decode_json_object(data: bytes) -> dict[str, Any]:
    """The request body as a JSON object; anything else (bad UTF-8, nesting past the recursion limit, a
    repeated key, NaN) is an :class:`InvalidRequest`."""
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _DuplicateKey:
        raise InvalidRequest("body repeats a field") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidRequest("body must be a JSON object")
    return value


def loose_json_object(data: bytes) -> dict[str, Any]:
    """The body as a JSON object if it is one, else empty: for auditing a refusal, never for a query."""
    try:
        return decode_json_object(data)
    except InvalidRequest:
        return {}


def _no_constant(_: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _text(raw: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise InvalidRequest(f"{key} is required", field=key)
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{key} must be a string", field=key)
    if not value.strip() or len(value) > LIMITS[key] or not value.isprintable():
        raise InvalidRequest(f"{key} must be 1-{LIMITS[key]} printable characters", field=key)
    return value


def validate_person_query(raw: dict[str, Any], default_product: str) -> PersonQuery:
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        # Field names come from the caller: report only how many, never echo them.
        raise InvalidRequest(f"{len(unknown)} unknown field(s); allowed: {', '.join(sorted(FIELDS))}")
    hetu = raw.get("hetu")
    if not isinstance(hetu, str):
        raise InvalidRequest("hetu is required and must be a string", field="hetu")
    end_user = _text(raw, "end_user", required=True)
    purpose = _text(raw, "purpose", required=True)
    product = _text(raw, "product", required=False) or default_product
    parse_hetu(hetu)
    assert end_user is not None and purpose is not None
    return PersonQuery(hetu=hetu, product=product, end_user=end_user, purpose=purpose)
