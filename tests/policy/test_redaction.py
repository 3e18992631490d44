"""Turvakielto through the real API: both ways VTJ signals it, withheld from most callers, shown to the entitled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Running, ServiceFactory, Sim, base_config, sha
from tests.policy.helpers import assert_schema, bearer, call, caller
from xroad_vtj.policy import PROTECTED_FIELDS

PROTECTED = "260991-999R"
# PERUSSANOMA 3 carries TurvakieltoTieto=1 and the address; PERUSSANOMA 1 has no such element and returns no
# address data at all for a protected person.
PRODUCTS = ["PERUSSANOMA 3", "PERUSSANOMA 1"]


@pytest.fixture
async def service(simulator: Sim, start_service: ServiceFactory, tmp_path: Path) -> Running:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"] += [caller("socialwork", sha("entitled-token"), reveal_protected_addresses=True)]
    running: Running = await start_service(raw)
    return running


async def ask(running: Running, token: str, hetu: str, product: str) -> dict[str, Any]:
    body = {"hetu": hetu, "product": product, "end_user": "officer.1", "purpose": "CASE-2026-9"}
    status, answer, _ = await call(running, "POST", "/v1/person-queries", headers=bearer(token), json=body)
    assert status == 200, answer
    assert_schema("QueryAnswer", answer)
    return answer


@pytest.mark.parametrize("product", PRODUCTS)
async def test_a_protected_persons_address_fields_are_absent_and_named_in_redacted(
    service: Running, product: str
) -> None:
    answer = await ask(service, "test-token-caseapp", PROTECTED, product)
    person = answer["person"]
    assert answer["outcome"] == "found"
    assert person["non_disclosure"] is True
    for name in PROTECTED_FIELDS:
        assert name not in person  # absent, not null
    assert set(person["redacted"]) == set(PROTECTED_FIELDS)
    assert answer["redacted"] == person["redacted"]
    assert person["last_name"] == "Suojattu"  # the name is not protected


async def test_nothing_of_the_address_leaks_anywhere_in_the_answer(service: Running) -> None:
    answer = await ask(service, "test-token-caseapp", PROTECTED, "PERUSSANOMA 3")
    # the random identifiers are left out: "091" in a hex id is chance, not a leak
    text = str({k: v for k, v in answer.items() if k not in ("message_id", "xroad_message_id", "audit_id")})
    for secret in ("Salainen polku", "00200", "HELSINKI", "Helsinki", "091"):
        assert secret not in text


@pytest.mark.parametrize("product", PRODUCTS)
async def test_a_caller_with_reveal_protected_addresses_sees_the_flag_and_what_vtj_gave(
    service: Running, product: str
) -> None:
    answer = await ask(service, "entitled-token", PROTECTED, product)
    person = answer["person"]
    assert person["non_disclosure"] is True
    assert "redacted" not in person and "redacted" not in answer
    assert set(PROTECTED_FIELDS) <= set(person)
    if product == "PERUSSANOMA 3":
        assert person["permanent_address"]["street_fi"] == "Salainen polku 3"
        assert person["home_municipality"]["code"] == "091"


@pytest.mark.parametrize("product", PRODUCTS)
async def test_a_person_without_turvakielto_keeps_every_address_field(service: Running, product: str) -> None:
    answer = await ask(service, "test-token-caseapp", "010280-952L", product)
    person = answer["person"]
    assert "redacted" not in person and "redacted" not in answer
    assert person["permanent_address"]["postal_code"] == "00100"
    assert person["home_municipality"]["code"] == "091"
    assert person["non_disclosure"] in (None, False)


async def test_a_deceased_person_without_address_is_not_mistaken_for_turvakielto(service: Running) -> None:
    answer = await ask(service, "test-token-caseapp", "020365-999P", "PERUSSANOMA 1")
    assert answer["outcome"] == "deceased"
    assert "redacted" not in answer
