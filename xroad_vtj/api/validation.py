"""Strict validation of the query JSON of every operation, before any I/O.

Each identifier is parsed here, once; the pipeline takes the typed :class:`VtjQuery` from here on.
"""

from __future__ import annotations

import json
from typing import Any

from xroad_vtj.errors import InvalidCriteria, InvalidRequest
from xroad_vtj.query import VtjQuery
from xroad_vtj.vtj import parse_hetu
from xroad_vtj.vtj.identifiers import (
    check_apartment_id,
    check_criteria_xml,
    parse_building_id,
    parse_property_id,
    parse_satu,
)

FIELDS = {"hetu", "satu", "product", "end_user", "purpose"}
BUILDING_FIELDS = {"building_id", "apartment_id", "product", "end_user", "purpose"}
PROPERTY_FIELDS = {"property_id", "product", "end_user", "purpose"}
SEARCH_FIELDS = {"object", "criteria_xml", "product", "end_user", "purpose"}
SEARCH_OBJECTS = ("person", "building", "property")
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


def _fields(raw: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        # Field names come from the caller: report only how many, never echo them.
        raise InvalidRequest(f"{len(unknown)} unknown field(s); allowed: {', '.join(sorted(allowed))}")


def _common(raw: dict[str, Any], default_product: str) -> tuple[str, str, str]:
    end_user = _text(raw, "end_user", required=True)
    purpose = _text(raw, "purpose", required=True)
    product = _text(raw, "product", required=False) or default_product
    assert end_user is not None and purpose is not None
    return product, end_user, purpose


def _identifier(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{key} is required and must be a string", field=key)
    return value


def validate_person_query(raw: dict[str, Any], default_product: str) -> VtjQuery:
    """``{hetu | satu, product?, end_user, purpose}``: exactly one of hetu and satu."""
    _fields(raw, FIELDS)
    if ("hetu" in raw) == ("satu" in raw):
        raise InvalidRequest("give exactly one of hetu and satu")
    product, end_user, purpose = _common(raw, default_product)
    if "satu" in raw:
        satu = parse_satu(_identifier(raw, "satu"))
        return VtjQuery.person(satu=satu, product=product, end_user=end_user, purpose=purpose)
    hetu = _identifier(raw, "hetu")
    parse_hetu(hetu)
    return VtjQuery.person(hetu=hetu, product=product, end_user=end_user, purpose=purpose)


def validate_building_query(raw: dict[str, Any], default_product: str) -> VtjQuery:
    _fields(raw, BUILDING_FIELDS)
    building_id = parse_building_id(_identifier(raw, "building_id"))
    apartment = raw.get("apartment_id")
    if apartment is not None:
        if not isinstance(apartment, str):
            raise InvalidRequest("apartment_id must be a string", field="apartment_id")
        check_apartment_id(apartment)
    product, end_user, purpose = _common(raw, default_product)
    return VtjQuery.building(
        building_id=building_id, apartment_id=apartment, product=product, end_user=end_user, purpose=purpose
    )


def validate_property_query(raw: dict[str, Any], default_product: str) -> VtjQuery:
    _fields(raw, PROPERTY_FIELDS)
    property_id = parse_property_id(_identifier(raw, "property_id"))
    product, end_user, purpose = _common(raw, default_product)
    return VtjQuery.property(property_id=property_id, product=product, end_user=end_user, purpose=purpose)


def validate_identification_search(raw: dict[str, Any], default_product: str) -> VtjQuery:
    _fields(raw, SEARCH_FIELDS)
    object_ = raw.get("object")
    if object_ not in SEARCH_OBJECTS:
        raise InvalidRequest(f"object must be one of {', '.join(SEARCH_OBJECTS)}", field="object")
    criteria = raw.get("criteria_xml")
    if not isinstance(criteria, str):
        raise InvalidCriteria("criteria_xml is required and must be a string")
    check_criteria_xml(criteria)
    product, end_user, purpose = _common(raw, default_product)
    return VtjQuery.search(
        object_=str(object_), criteria_xml=criteria, product=product, end_user=end_user, purpose=purpose
    )
