"""Strict validation of the query JSON of every operation and of the audit search filters, before any I/O.

Each identifier is parsed here, once; the pipeline takes the typed :class:`VtjQuery` from here on.

The end user (``Loppukayttaja``) is who DVV may ask about for five years, and quotas are
kept per end user, so its spelling is checked here for every operation that takes one (issue 11 §2):

- 1-50 printable characters, with no white space at either end;
- by default no mixed scripts: Latin letters may not stand beside Cyrillic or Greek ones (``m\u0430ija`` with a
  Cyrillic ``\u0430`` looks like ``maija`` but would be another end user); a caller with an ``end_user_pattern``
  gets that pattern (a full match) instead of this rule;
- quotas and locks then use :func:`xroad_vtj.policy.end_user_key` (NFKC, case-folded), while the audit record
  and ``Loppukayttaja`` keep the text as sent.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
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


# Scripts whose letters look alike; a mix of any two of them in one end user is refused by default.
_CONFUSABLE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def _scripts(text: str) -> set[str]:
    found: set[str] = set()
    # NFKC first: a full-width or mathematical Latin letter is Latin.
    for char in unicodedata.normalize("NFKC", text):
        if char.isalpha():
            script = unicodedata.name(char, "").partition(" ")[0]
            if script in _CONFUSABLE_SCRIPTS:
                found.add(script)
    return found


def check_end_user(end_user: str, pattern: re.Pattern[str] | None = None) -> None:
    """Refuse an end user whose spelling could pass for another's (see the module's rules)."""
    if end_user != end_user.strip():
        raise InvalidRequest("end_user must not begin or end with white space", field="end_user")
    if pattern is not None:
        if not pattern.fullmatch(end_user):
            raise InvalidRequest("end_user does not have the form this caller must use", field="end_user")
    # ASCII letters are all Latin, so only a name with other characters can mix scripts (and the per-character
    # Unicode name lookups are skipped for the usual ASCII name).
    elif not end_user.isascii() and len(_scripts(end_user)) > 1:
        raise InvalidRequest("end_user mixes Latin letters with Cyrillic or Greek ones", field="end_user")


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


def _common(
    raw: dict[str, Any], default_product: str, end_user_pattern: re.Pattern[str] | None
) -> tuple[str, str, str]:
    end_user = _text(raw, "end_user", required=True)
    purpose = _text(raw, "purpose", required=True)
    product = _text(raw, "product", required=False) or default_product
    assert end_user is not None and purpose is not None
    check_end_user(end_user, end_user_pattern)
    return product, end_user, purpose


def _identifier(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{key} is required and must be a string", field=key)
    return value


def validate_person_query(
    raw: dict[str, Any], default_product: str, end_user_pattern: re.Pattern[str] | None = None
) -> VtjQuery:
    """``{hetu | satu, product?, end_user, purpose}``: exactly one of hetu and satu."""
    _fields(raw, FIELDS)
    if ("hetu" in raw) == ("satu" in raw):
        raise InvalidRequest("give exactly one of hetu and satu")
    product, end_user, purpose = _common(raw, default_product, end_user_pattern)
    if "satu" in raw:
        satu = parse_satu(_identifier(raw, "satu"))
        return VtjQuery.person(satu=satu, product=product, end_user=end_user, purpose=purpose)
    hetu = _identifier(raw, "hetu")
    parse_hetu(hetu)
    return VtjQuery.person(hetu=hetu, product=product, end_user=end_user, purpose=purpose)


def validate_building_query(
    raw: dict[str, Any], default_product: str, end_user_pattern: re.Pattern[str] | None = None
) -> VtjQuery:
    _fields(raw, BUILDING_FIELDS)
    building_id = parse_building_id(_identifier(raw, "building_id"))
    apartment = raw.get("apartment_id")
    if apartment is not None:
        if not isinstance(apartment, str):
            raise InvalidRequest("apartment_id must be a string", field="apartment_id")
        check_apartment_id(apartment)
    product, end_user, purpose = _common(raw, default_product, end_user_pattern)
    return VtjQuery.building(
        building_id=building_id, apartment_id=apartment, product=product, end_user=end_user, purpose=purpose
    )


def validate_property_query(
    raw: dict[str, Any], default_product: str, end_user_pattern: re.Pattern[str] | None = None
) -> VtjQuery:
    _fields(raw, PROPERTY_FIELDS)
    property_id = parse_property_id(_identifier(raw, "property_id"))
    product, end_user, purpose = _common(raw, default_product, end_user_pattern)
    return VtjQuery.property(property_id=property_id, product=product, end_user=end_user, purpose=purpose)


def validate_identification_search(
    raw: dict[str, Any], default_product: str, end_user_pattern: re.Pattern[str] | None = None
) -> VtjQuery:
    _fields(raw, SEARCH_FIELDS)
    object_ = raw.get("object")
    if object_ not in SEARCH_OBJECTS:
        raise InvalidRequest(f"object must be one of {', '.join(SEARCH_OBJECTS)}", field="object")
    criteria = raw.get("criteria_xml")
    if not isinstance(criteria, str):
        raise InvalidCriteria("criteria_xml is required and must be a string")
    check_criteria_xml(criteria)
    product, end_user, purpose = _common(raw, default_product, end_user_pattern)
    return VtjQuery.search(
        object_=str(object_), criteria_xml=criteria, product=product, end_user=end_user, purpose=purpose
    )


SEARCH_TEXTS = ("xroad_id", "end_user", "caller", "subject")
_SEARCH_TEXT_LIMIT = 256


def _unstorable(value: str) -> bool:
    # A lone surrogate cannot be encoded at all, and a NUL or other control character cannot be a stored value
    # (PostgreSQL text refuses NUL): such a filter could only fail deep in the store, as a 500 or a 503.
    return any("\ud800" <= char <= "\udfff" or unicodedata.category(char) == "Cc" for char in value)


def search_texts(params: Mapping[str, Any]) -> dict[str, str | None]:
    """The text filters of an audit search, refused with ``400 invalid_request`` unless each is a string of
    at most 256 characters without lone surrogates or control characters."""
    texts: dict[str, str | None] = {}
    for key in SEARCH_TEXTS:
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest("xroad_id, end_user, caller and subject must be strings", field=key)
        if value is not None and (len(value) > _SEARCH_TEXT_LIMIT or _unstorable(value)):
            raise InvalidRequest(
                f"{key} must be at most {_SEARCH_TEXT_LIMIT} characters without control characters or lone"
                " surrogates",
                field=key,
            )
        texts[key] = value
    return texts
