"""Return code table: every code DVV documents is known, and each maps to the outcome the service promises."""

from __future__ import annotations

import pytest

import xroad_vtj.vtj as vtj
from xroad_vtj.vtj.codes import RETURN_CODES, Outcome, describe, normalise_code, outcome_for

DOCUMENTED = [f"{n:04d}" for n in range(20)] + [
    "-1500",
    "-1505",
    "-1800",
    "-1805",
    "-1900",
    "-1901",
    "-1902",
    "-1903",
    "-1904",
    "-1905",
    "-1906",
]


def test_every_documented_code_is_in_the_table() -> None:
    assert sorted(RETURN_CODES) == sorted(DOCUMENTED)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("0000", Outcome.FOUND),
        ("0018", Outcome.FOUND),
        ("0001", Outcome.NOT_FOUND),
        ("0006", Outcome.NOT_FOUND),
        ("0017", Outcome.NOT_FOUND),
        ("0002", Outcome.PASSIVATED),
        ("0007", Outcome.DECEASED),
        ("0019", Outcome.NOT_DISCLOSED),
        ("0003", Outcome.UPSTREAM_REJECTED),
        ("0004", Outcome.UPSTREAM_REJECTED),
        ("0005", Outcome.UPSTREAM_REJECTED),
        ("-1500", Outcome.UPSTREAM_REJECTED),
        ("-1805", Outcome.UPSTREAM_REJECTED),
        ("-1901", Outcome.UPSTREAM_REJECTED),
        ("-1904", Outcome.UPSTREAM_REJECTED),
        ("9999", Outcome.UPSTREAM_REJECTED),
        ("", Outcome.UPSTREAM_REJECTED),
    ],
)
def test_code_maps_to_outcome(code: str, outcome: Outcome) -> None:
    assert outcome_for(code) is outcome


def test_every_code_has_an_english_description() -> None:
    for code in RETURN_CODES:
        assert describe(code) and describe(code).isascii()
    assert describe("1234") == "Unknown return code"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("0", "0000"),
        ("18", "0018"),
        (" 0002\n", "0002"),
        ("\u22121500", "-1500"),
        ("12345", "12345"),
        ("", ""),
    ],
)
def test_normalise_code(raw: str, code: str) -> None:
    assert normalise_code(raw) == code


def test_outcome_values_are_the_api_words() -> None:
    assert [o.value for o in Outcome] == [
        "found",
        "not_found",
        "passivated",
        "deceased",
        "not_disclosed",
        "upstream_rejected",
    ]


def test_package_exports_its_public_names() -> None:
    for name in vtj.__all__:
        assert hasattr(vtj, name), name
    from xroad_vtj.vtj.response import Outcome as ResponseOutcome

    assert ResponseOutcome is Outcome
