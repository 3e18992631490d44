from __future__ import annotations

from typing import Any

from xroad_vtj.config import CallerConfig
from xroad_vtj.policy import PROTECTED_FIELDS, Policy

ADDRESS = {
    "street_fi": "Katu 1",
    "street_sv": None,
    "postal_code": "00100",
    "post_office_fi": "HELSINKI",
    "post_office_sv": None,
    "start_date": None,
    "end_date": None,
}


def person(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hetu": "260991-999R",
        "non_disclosure": None,
        "deceased": False,
        "home_municipality": {"code": "091", "name_fi": "Helsinki", "name_sv": "Helsingfors"},
        "permanent_address": ADDRESS,
        "temporary_address": None,
        "postal_address": None,
        "foreign_address": None,
    }
    base.update(changes)
    return base


CALLER = CallerConfig(name="c", token_sha256=b"x" * 32)
ENTITLED = CallerConfig(name="e", token_sha256=b"y" * 32, reveal_protected_addresses=True)


def test_turvakielto_flag_removes_every_address_field() -> None:
    redacted_person, redacted = Policy.redact(CALLER, person(non_disclosure=True))
    assert redacted_person is not None
    assert set(redacted) == set(PROTECTED_FIELDS)
    assert not set(PROTECTED_FIELDS) & set(redacted_person)
    assert redacted_person["non_disclosure"] is True
    assert redacted_person["redacted"] == redacted


def test_product_without_turvakielto_element_and_no_address_counts_as_turvakielto() -> None:
    empty = person(home_municipality=None, permanent_address=None)
    redacted_person, redacted = Policy.redact(CALLER, empty)
    assert redacted_person is not None and redacted_person["non_disclosure"] is True
    assert "permanent_address" in redacted and "permanent_address" not in redacted_person


def test_ordinary_person_is_untouched() -> None:
    p = person(non_disclosure=False)
    assert Policy.redact(CALLER, p) == (p, [])
    p = person()
    assert Policy.redact(CALLER, p) == (p, [])


def test_entitled_caller_keeps_the_address_and_sees_the_flag() -> None:
    redacted_person, redacted = Policy.redact(ENTITLED, person(non_disclosure=True))
    assert redacted == []
    assert redacted_person is not None and redacted_person["permanent_address"] == ADDRESS
    assert redacted_person["non_disclosure"] is True


def test_products_that_never_carry_addresses_do_not_imply_turvakielto() -> None:
    empty = person(home_municipality=None, permanent_address=None)
    assert Policy.redact(CALLER, empty, "ASUKASLKM2") == (empty, [])
    assert Policy.redact(CALLER, empty, "HUOLTAJA-HUOLLETTAVAT") == (empty, [])
    redacted_person, _ = Policy.redact(CALLER, empty, "Perussanoma 1")
    assert redacted_person is not None and redacted_person["non_disclosure"] is True
