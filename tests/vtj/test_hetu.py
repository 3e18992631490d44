"""Henkilötunnus parsing: format, calendar date, century signs, check character, refusal messages."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xroad_vtj.errors import InvalidHetu
from xroad_vtj.vtj.hetu import CENTURY_SIGNS, CHECK_CHARS, check_char, is_valid_hetu, parse_hetu

KNOWN_VALID = [
    "010280-952L",
    "260991-999R",
    "020365-999P",
    "311211A9527",
    "131052-308T",
    "010469-999W",
    "010675-9981",
    "261298-998X",
    "040265-9985",
    "020501A999T",
    "020190-9521",
    "210281-9988",
    "010594Y9032",
    "020594X903P",
    "010516B903X",
]


def make_hetu(day: datetime.date, sign: str, number: int) -> str:
    ddmmyy = day.strftime("%d%m") + f"{day.year % 100:02d}"
    nnn = f"{number:03d}"
    return f"{ddmmyy}{sign}{nnn}{check_char(ddmmyy, nnn)}"


@pytest.mark.parametrize("value", KNOWN_VALID)
def test_published_test_identities_are_valid(value: str) -> None:
    assert is_valid_hetu(value)
    assert parse_hetu(value).value == value


def test_parse_exposes_birth_date_sign_number_and_check() -> None:
    h = parse_hetu("131052-308T")
    assert h.birth_date == datetime.date(1952, 10, 13)
    assert h.century_sign == "-"
    assert h.individual_number == 308
    assert h.check == "T"
    assert not h.is_temporary
    assert h.sex == "female"


def test_individual_number_900_to_999_is_temporary_and_odd_is_male() -> None:
    h = parse_hetu("010280-952L")
    assert h.is_temporary
    assert h.sex == "female"
    assert parse_hetu("260991-999R").sex == "male"


@pytest.mark.parametrize(
    ("sign", "year"),
    [("+", 1880), ("-", 1980), ("Y", 1980), ("X", 1980), ("W", 1980), ("V", 1980), ("U", 1980)]
    + [(s, 2080) for s in "ABCDEF"],
)
def test_every_century_sign_sets_the_century(sign: str, year: int) -> None:
    value = make_hetu(datetime.date(year, 2, 1), sign, 952)
    h = parse_hetu(value)
    assert h.birth_date == datetime.date(year, 2, 1)
    assert h.century_sign == sign


def test_century_sign_is_part_of_the_identity() -> None:
    a = parse_hetu(make_hetu(datetime.date(1994, 5, 1), "-", 903))
    b = parse_hetu(make_hetu(datetime.date(1994, 5, 1), "Y", 903))
    assert a.birth_date == b.birth_date
    assert a != b


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("310299-9521", "calendar date"),  # no 31 February
        ("290223A9520", "calendar date"),  # 2023 is not a leap year
        ("290200-9520", "calendar date"),  # 1900 was not a leap year
        ("001280-952L", "calendar date"),
        ("011380-952L", "calendar date"),
        ("010280-952M", "check character does not match"),
        ("010280-952G", "check character must be"),
        ("010280-952I", "check character must be"),
        ("010280Z952L", "century sign"),
        ("010280a952L", "century sign"),
        ("010280-952", "exactly 11"),
        ("010280-952LL", "exactly 11"),
        ("", "exactly 11"),
        (" 10280-952L", "digits"),
        ("010280-952l", "check character must be"),
        ("311211a9527", "century sign"),
        ("0102\uff180-952L", "digits"),  # a full-width digit
        ("010280-000J", "between 002 and 999"),
        ("010280-0013", "between 002 and 999"),
    ],
)
def test_invalid_values_are_refused_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidHetu) as info:
        parse_hetu(value)
    assert reason in str(info.value)
    assert not is_valid_hetu(value)


def test_leap_day_is_valid_in_a_leap_year() -> None:
    value = make_hetu(datetime.date(2024, 2, 29), "A", 952)
    assert value.startswith("290224A")
    assert parse_hetu(value).birth_date == datetime.date(2024, 2, 29)
    assert not is_valid_hetu("290223A" + value[7:])


def test_individual_number_002_is_the_first_valid_one() -> None:
    assert is_valid_hetu(make_hetu(datetime.date(1980, 2, 1), "-", 2))


def test_lowercase_input_is_refused() -> None:
    assert is_valid_hetu("311211A9527")
    assert not is_valid_hetu("311211a9527")
    assert not is_valid_hetu("131052-308t")


def test_non_string_input_is_refused() -> None:
    assert not is_valid_hetu(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["010280-952M", "310299-9521", "010280Z952L", "010280-000J", "99999999999"])
def test_refusal_message_and_problem_never_contain_the_value(value: str) -> None:
    with pytest.raises(InvalidHetu) as info:
        parse_hetu(value)
    for part in (value, value[:6], value[7:10]):
        assert part not in str(info.value)
        assert part not in repr(info.value.problem())


def test_repr_does_not_show_the_value() -> None:
    assert "952L" not in repr(parse_hetu("010280-952L"))


dates = st.dates(min_value=datetime.date(1800, 1, 1), max_value=datetime.date(2099, 12, 31))


@st.composite
def valid_hetus(draw: st.DrawFn) -> tuple[str, datetime.date, str, int]:
    day = draw(dates)
    signs = [s for s, c in CENTURY_SIGNS.items() if c == day.year // 100 * 100]
    sign = draw(st.sampled_from(signs))
    number = draw(st.integers(min_value=2, max_value=999))
    return make_hetu(day, sign, number), day, sign, number


@given(valid_hetus())
def test_generated_valid_hetus_round_trip(case: tuple[str, datetime.date, str, int]) -> None:
    value, day, sign, number = case
    h = parse_hetu(value)
    assert (h.value, h.birth_date, h.century_sign, h.individual_number) == (value, day, sign, number)
    assert h.check == value[-1]


ALPHABET = "0123456789" + "".join(CENTURY_SIGNS) + CHECK_CHARS + "GIOQZabc "


@given(valid_hetus(), st.integers(min_value=0, max_value=10), st.sampled_from(ALPHABET))
def test_changing_one_character_makes_it_invalid_or_a_different_person(
    case: tuple[str, datetime.date, str, int], position: int, replacement: str
) -> None:
    value = case[0]
    mutated = value[:position] + replacement + value[position + 1 :]
    if mutated == value:
        return
    if not is_valid_hetu(mutated):
        return
    # Only the century sign can change alone and stay valid (same digits, same check character).
    assert position == 6
    assert parse_hetu(mutated) != parse_hetu(value)
    assert parse_hetu(mutated).birth_date.year % 100 == parse_hetu(value).birth_date.year % 100
