"""SATU, building, apartment and property identifiers, and the non-unique search criteria: judged before sending."""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xroad_vtj.errors import (
    InvalidBuildingId,
    InvalidCriteria,
    InvalidPropertyId,
    InvalidRequest,
    InvalidSatu,
)
from xroad_vtj.vtj.identifiers import (
    CRITERIA_MAX_BYTES,
    canonical_subject,
    check_apartment_id,
    check_criteria_xml,
    parse_building_id,
    parse_property_id,
    parse_satu,
)


@pytest.mark.parametrize("satu", ["99999952L", "123456780", "00000000Z"])
def test_a_satu_is_eight_digits_and_a_check_character(satu: str) -> None:
    assert parse_satu(satu) == satu


@pytest.mark.parametrize(
    "satu", ["", "9999995L", "99999952LL", "99999952l", "9999995XL", " 99999952L", "99999952-"]
)
def test_a_satu_of_another_shape_is_invalid_satu(satu: str) -> None:
    with pytest.raises(InvalidSatu) as caught:
        parse_satu(satu)
    assert caught.value.code == "invalid_satu"
    assert satu.strip() == "" or satu.strip() not in caught.value.detail


@pytest.mark.parametrize("building", ["100012345A", "1000123450", "199999999Z"])
def test_a_permanent_building_identifier_is_1_eight_digits_and_a_check_character(building: str) -> None:
    assert parse_building_id(building) == building


@pytest.mark.parametrize(
    "building", ["200012345A", "100012345", "100012345AA", "100012345a", "1000-2345A", "\uff1100012345A"]
)
def test_other_building_identifiers_are_invalid_building_id(building: str) -> None:
    with pytest.raises(InvalidBuildingId) as caught:
        parse_building_id(building)
    assert caught.value.code == "invalid_building_id"


def test_an_apartment_identifier_is_1_to_20_printable_characters() -> None:
    assert check_apartment_id("A 2") == "A 2"
    for bad in ("", " ", "x" * 21, "A\n2"):
        with pytest.raises(InvalidRequest):
            check_apartment_id(bad)


@pytest.mark.parametrize(
    "written", ["091-403-0001-0005", "91-403-1-5", "09140300010005", "091-403-1-0005", "91-403-0001-5"]
)
def test_every_written_form_of_a_property_identifier_is_sent_as_14_digits(written: str) -> None:
    assert parse_property_id(written) == "09140300010005"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0914030001000",
        "091403000100055",
        "091-403-00001-0005",
        "91-403-1",
        "91 403 1 5",
        "9a-403-1-5",
        "91--1-5",
    ],
)
def test_other_property_identifiers_are_invalid_property_id(bad: str) -> None:
    with pytest.raises(InvalidPropertyId) as caught:
        parse_property_id(bad)
    assert caught.value.code == "invalid_property_id"


@given(st.integers(0, 999), st.integers(0, 999), st.integers(0, 9999), st.integers(0, 9999))
def test_the_short_and_long_dashed_forms_agree(
    municipality: int, village: int, block: int, unit: int
) -> None:
    short = f"{municipality}-{village}-{block}-{unit}"
    long = f"{municipality:03}-{village:03}-{block:04}-{unit:04}"
    assert parse_property_id(short) == parse_property_id(long) == long.replace("-", "")


# --- criteria ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "criteria",
    [
        "<Haku><Sukunimi>Testinen</Sukunimi></Haku>",
        '<?xml version="1.0" encoding="UTF-8"?><Haku><Etunimet>Aino</Etunimet></Haku>',
        '<h:Haku xmlns:h="urn:x"><h:Sukunimi a="1">Ö &amp; Å</h:Sukunimi><!-- note --></h:Haku>',
    ],
)
def test_well_formed_criteria_are_sent_as_given(criteria: str) -> None:
    assert check_criteria_xml(criteria) == criteria


@pytest.mark.parametrize(
    ("criteria", "why"),
    [
        ("", "empty"),
        ("Testinen", "text"),
        ("<Haku>", "unclosed"),
        ("<Haku/><Toinen/>", "two roots"),
        ('<!DOCTYPE Haku [<!ENTITY a "x">]><Haku>&a;</Haku>', "internal DTD"),
        ('<!DOCTYPE Haku SYSTEM "file:///etc/passwd"><Haku/>', "external DTD"),
        ("<?pi data?><Haku/>", "PI before the root"),
        ("<Haku><?pi data?></Haku>", "PI inside"),
        ("<Haku/><?pi data?>", "PI after the root"),
        ("<Haku>&undefined;</Haku>", "undefined entity"),
        ('<?xml version="1.0" encoding="ISO-8859-1"?><Haku/>', "another encoding"),
        ("<Haku>" + "x" * CRITERIA_MAX_BYTES + "</Haku>", "over 8 KiB"),
        ("<Haku>\ud800</Haku>", "lone surrogate"),
    ],
)
def test_criteria_that_are_not_plain_well_formed_xml_are_invalid_criteria(criteria: str, why: str) -> None:
    with pytest.raises(InvalidCriteria) as caught:
        check_criteria_xml(criteria)
    assert caught.value.code == "invalid_criteria", why
    assert "Testinen" not in caught.value.detail


def test_a_billion_laughs_is_refused_without_expansion() -> None:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    with pytest.raises(InvalidCriteria):
        check_criteria_xml(f"<!DOCTYPE H [{laughs}]><H>&l9;</H>")


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_text_is_either_accepted_unchanged_or_invalid_criteria(text: str) -> None:
    try:
        assert check_criteria_xml(text) == text
    except InvalidCriteria as error:
        assert error.status == 400


@settings(max_examples=200)
@given(
    st.recursive(
        st.text("ab<>&;!?-[]\"' =/", max_size=8),
        lambda inner: st.lists(inner, max_size=4).map("".join),
        max_leaves=30,
    )
)
def test_xml_like_fragments_never_escape_the_error_family(fragment: str) -> None:
    for candidate in (fragment, f"<a>{fragment}</a>", f"<?xml version='1.0'?>{fragment}"):
        with contextlib.suppress(InvalidCriteria):
            check_criteria_xml(candidate)


def _seconds(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with contextlib.suppress(InvalidCriteria):
            check_criteria_xml(text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize(
    "unit",
    ["<?a?>", "<!--x-->", "<b>", "<b a='1' ", "&#x41;", " "],
)
def test_judging_criteria_is_linear_in_their_size(unit: str) -> None:
    # Hostile runs (PIs, comments, unclosed elements, attributes) up to the size cap: doubling the input may at
    # most roughly double the time, and the worst case stays far below a millisecond-scale budget.
    small = "<r>" + unit * 200
    large = "<r>" + unit * 1600
    assert len(large.encode()) <= CRITERIA_MAX_BYTES * 2
    t_small, t_large = _seconds(small), _seconds(large)
    assert t_large < max(t_small, 1e-5) * 8 * 3
    assert t_large < 0.05


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("91-403-1-5", "09140300010005"),
        ("091-403-0001-0005", "09140300010005"),
        (" 09140300010005 ", "09140300010005"),
        ("99999952l", "99999952L"),
        ("100012345a", "100012345A"),
        ("010280-952L", "010280-952L"),
        ("91-403-1", "91-403-1"),  # not valid: unchanged
        ("anything", "anything"),
        ("", ""),
    ],
)
def test_canonical_subject_is_the_form_the_pipeline_sends(written: str, canonical: str) -> None:
    assert canonical_subject(written) == canonical


@given(st.text(max_size=40))
def test_canonical_subject_is_idempotent(text: str) -> None:
    assert canonical_subject(canonical_subject(text)) == canonical_subject(text)
