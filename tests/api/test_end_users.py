"""End-user spelling (issue 11 §2): one end user cannot pass for several by spelling its name differently.

Leading or trailing white space and, by default, Latin letters mixed with Cyrillic or Greek ones are refused
(``400 invalid_request``); a caller may set its own ``end_user_pattern`` instead. The audit record and
``Loppukayttaja`` keep the end user as sent; quotas and locks use ``end_user_key`` (NFKC, case-folded).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.api.conftest import Proxy
from tests.conftest import Running, ServiceFactory, Sim, base_config, sha
from tests.policy.helpers import bearer, call, caller
from xroad_vtj.api.validation import check_end_user, validate_person_query
from xroad_vtj.errors import InvalidRequest
from xroad_vtj.policy import end_user_key

CYRILLIC_A = "\u0430"
GREEK_ALPHA = "\u03b1"
BODY = {"hetu": "010280-952L", "purpose": "CASE-2026-7"}


# --- the rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "end_user",
    [" maija", "maija ", "\tmaija", "maija\n", "\u00a0maija", "maija\u3000", "\u2003maija"],
)
def test_white_space_at_either_end_is_refused(end_user: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_end_user(end_user)
    assert info.value.extra["field"] == "end_user"


@pytest.mark.parametrize(
    "end_user",
    [
        f"m{CYRILLIC_A}ija",
        f"m{GREEK_ALPHA}ija",
        f"{CYRILLIC_A}{GREEK_ALPHA}",
        "maija.\u0432\u0438\u0440\u0442",
    ],
)
def test_latin_mixed_with_cyrillic_or_greek_is_refused_by_default(end_user: str) -> None:
    with pytest.raises(InvalidRequest, match="mixes"):
        check_end_user(end_user)


@pytest.mark.parametrize(
    "end_user",
    [
        "maija",
        "Maija Virtanen",
        "maija.virtanen@example.fi",
        "Åsa Öhman-Ääkkönen",
        "\u043c\u0430\u0440\u0438\u044f",  # all Cyrillic
        "\u03bc\u03b1\u03c1\u03b9\u03b1",  # all Greek
        "\uff4d\uff41\uff49\uff4a\uff41",  # full-width Latin: Latin after NFKC
        "officer 42",
        "\u5f20\u4f1f maija",  # Han beside Latin is not a look-alike mix
    ],
)
def test_single_script_end_users_are_accepted(end_user: str) -> None:
    check_end_user(end_user)


def test_a_callers_end_user_pattern_replaces_the_script_rule() -> None:
    pattern = re.compile(r"[a-z]+\.[a-z]+|.*" + CYRILLIC_A + ".*")
    check_end_user("maija.virtanen", pattern)
    check_end_user(f"m{CYRILLIC_A}ija", pattern)  # this caller allows the mix on purpose
    with pytest.raises(InvalidRequest, match="form"):
        check_end_user("Maija.Virtanen", pattern)
    with pytest.raises(InvalidRequest, match="white space"):
        check_end_user("maija.virtanen ", re.compile(r".*"))  # white space is refused for everyone


def test_validation_checks_the_end_user_and_keeps_it_as_sent() -> None:
    query = validate_person_query({**BODY, "end_user": "Maija.Virtanen"}, "PERUSSANOMA 1")
    assert query.end_user == "Maija.Virtanen"
    with pytest.raises(InvalidRequest):
        validate_person_query({**BODY, "end_user": f"m{CYRILLIC_A}ija"}, "PERUSSANOMA 1")


@pytest.mark.parametrize("spelling", ["maija", "Maija", "MAIJA", "\uff2d\uff41\uff49\uff4a\uff41"])
def test_spellings_of_one_end_user_share_one_key(spelling: str) -> None:
    assert end_user_key(spelling) == "maija"


LOOK_ALIKES = "maijMAIJeoc .-_1\u0430\u0435\u043e\u0441\u03b1\u03bf\u03b5\uff4d\uff41\u00e4\u00a0\t"


@given(st.one_of(st.text(min_size=1, max_size=50), st.text(alphabet=LOOK_ALIKES, min_size=1, max_size=12)))
def test_an_accepted_end_user_has_no_outer_white_space_and_one_look_alike_script(end_user: str) -> None:
    try:
        check_end_user(end_user)
    except InvalidRequest:
        return
    assert end_user == end_user.strip()
    letters = {n.split(" ")[0] for n in map(_name, end_user_key(end_user)) if n}
    assert len(letters & {"LATIN", "CYRILLIC", "GREEK"}) <= 1


def _name(char: str) -> str:
    return unicodedata.name(char, "") if char.isalpha() else ""


# --- end to end -----------------------------------------------------------------------------------------------


async def test_a_refused_spelling_is_400_and_audited_as_sent(running: Running, simulator: Sim) -> None:
    spelling = f"m{CYRILLIC_A}ija"
    status, body, _ = await running.query(end_user=spelling)
    assert (status, body["code"], body["field"]) == (400, "invalid_request", "end_user")
    assert simulator.received == []
    rows = await running.service.store.search(end_user=spelling)
    assert [(r["kind"], r["end_user"]) for r in rows] == [("refusal", spelling)]


async def test_the_end_user_goes_to_the_record_and_loppukayttaja_as_sent(
    fuzzed: Running, proxy: Proxy
) -> None:
    status, body, _ = await fuzzed.query(end_user="Maija.Virtanen")
    assert status == 200, body
    rows = await fuzzed.service.store.search(xroad_id=body["xroad_message_id"])
    assert rows[0]["end_user"] == "Maija.Virtanen"
    assert b">Maija.Virtanen</" in proxy.requests[-1]
    assert b"maija.virtanen" not in proxy.requests[-1]


async def test_a_caller_with_an_end_user_pattern_is_held_to_it(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"] = [
        caller("strict", sha("strict-token"), end_user_pattern=r"[a-z]+\.[a-z]+", quotas=None),
    ]
    running: Running = await start_service(raw)

    async def ask(end_user: str) -> tuple[int, dict[str, Any], Any]:
        body = {**BODY, "end_user": end_user}
        return await call(running, "POST", "/v1/person-queries", headers=bearer("strict-token"), json=body)

    assert (await ask("maija.virtanen"))[0] == 200
    status, body, _ = await ask("Maija.Virtanen")
    assert (status, body["code"]) == (400, "invalid_request")


async def test_one_end_user_cannot_get_twenty_queries_per_spelling(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"] = [
        caller(
            "bulk",
            sha("bulk-token"),
            quotas={
                "per_end_user_per_minute": 20,
                "per_end_user_per_day": None,
                "per_caller_per_minute": None,
                "distinct_subjects_per_end_user_per_day": None,
            },
        )
    ]
    running: Running = await start_service(raw)

    async def ask(end_user: str) -> int:
        body = {**BODY, "end_user": end_user}
        status, _, _ = await call(
            running, "POST", "/v1/person-queries", headers=bearer("bulk-token"), json=body
        )
        return status

    for _ in range(20):
        assert await ask("maija") == 200
    spellings = {
        "Maija": 429,
        "MAIJA": 429,
        "\uff4d\uff41\uff49\uff4a\uff41": 429,  # full-width
        f"m{CYRILLIC_A}ija": 400,
        " maija": 400,
        "maija ": 400,
    }
    answers = {spelling: await ask(spelling) for spelling in spellings}
    assert answers == spellings
    assert len(simulator.received) == 20
