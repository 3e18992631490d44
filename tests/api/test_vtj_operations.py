"""Every VTJ operation end to end on the X-Road route: real service, real simulator, real SQLite audit store."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import AUDITOR_TOKEN, TOKEN, Running, ServiceFactory, Sim, base_config, sha
from tests.policy.helpers import assert_schema
from xroad_vtj.logging import configure_logging

SEARCH_TOKEN = "test-token-searcher"
PRODUCTS = [
    "PERUSSANOMA 1",
    "PERUSSANOMA 3",
    "Huoltaja-Huollettavat",
    "Vanhempi -lapset ja huollettavat",
    "PERUSLT1",
]
NO_QUOTAS = {
    k: None
    for k in (
        "per_end_user_per_minute",
        "per_end_user_per_day",
        "per_caller_per_minute",
        "distinct_subjects_per_end_user_per_day",
    )
}
CRITERIA = "<Haku><Sukunimi>Testinen</Sukunimi></Haku>"


def config(tmp_path: Path, simulator: Sim, **vtj: Any) -> dict[str, Any]:
    raw = base_config(tmp_path, simulator.url)
    raw["callers"][0]["products"] = PRODUCTS
    raw["callers"].append(
        {
            "name": "searcher",
            "token_sha256": sha(SEARCH_TOKEN),
            "products": ["PERUSSANOMA 3", "PERUSSANOMA 1"],
            "non_unique_search": True,
            "quotas": NO_QUOTAS,
        }
    )
    raw["vtj"].update(vtj)
    return raw


@pytest.fixture
async def vtj(simulator: Sim, start_service: ServiceFactory, tmp_path: Path) -> Running:
    running: Running = await start_service(config(tmp_path, simulator))
    return running


async def post(running: Running, path: str, body: dict[str, Any], token: str = TOKEN) -> tuple[int, Any]:
    payload = {"end_user": "tester@example.fi", "purpose": "CASE-2026-1", **body}
    headers = {"Authorization": f"Bearer {token}"}
    async with running.session.post(f"{running.base}{path}", json=payload, headers=headers) as response:
        answer = await response.json(content_type=None)
    # Every answer and every problem is what the published OpenAPI document promises.
    if response.status != 200:
        assert_schema("Problem", answer)
    else:
        assert_schema("QueryAnswer" if path == "/v1/person-queries" else "DataAnswer", answer)
    return response.status, answer


def spy_on_posts(running: Running) -> list[bytes]:
    transport = running.service.transport
    real_post = transport.post
    bodies: list[bytes] = []

    async def post(body: bytes, **kwargs: Any) -> Any:
        bodies.append(body)
        return await real_post(body, **kwargs)

    transport.post = post  # type: ignore[method-assign]
    return bodies


async def audit_rows(running: Running, **filters: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await running.service.store.search(**filters)
    return rows


# --- persons by SATU, relations, extra ---------------------------------------------------------------------------


async def test_a_person_is_found_by_satu_sent_without_henkilotunnus(vtj: Running, simulator: Sim) -> None:
    sent = spy_on_posts(vtj)
    status, body = await post(vtj, "/v1/person-queries", {"satu": "99999952L"})
    assert (status, body["outcome"]) == (200, "found")
    assert body["person"]["hetu"] == "010280-952L"
    assert b"<SahkoinenAsiointitunnus>99999952L</SahkoinenAsiointitunnus>" in sent[0]
    assert b"Henkilotunnus" not in sent[0]
    (row,) = await audit_rows(vtj, subject="99999952L")
    assert (row["operation"], row["subject_kind"], row["route"]) == ("HenkilonTunnusKysely", "satu", "xroad")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"hetu": "010280-952L", "satu": "99999952L"}, "invalid_request"),
        ({}, "invalid_request"),
        ({"satu": "99999952"}, "invalid_satu"),
        ({"satu": 99999952}, "invalid_request"),
    ],
)
async def test_exactly_one_well_formed_hetu_or_satu_or_nothing_is_sent(
    vtj: Running, simulator: Sim, body: dict[str, Any], code: str
) -> None:
    status, problem = await post(vtj, "/v1/person-queries", body)
    assert (status, problem["code"]) == (400, code)
    assert simulator.received == []


async def test_a_refused_satu_is_audited_as_a_satu(vtj: Running) -> None:
    await post(vtj, "/v1/person-queries", {"satu": "1234"})
    (row,) = await audit_rows(vtj, subject="1234")
    assert (row["kind"], row["reason"], row["subject_kind"]) == ("refusal", "invalid_satu", "satu")
    assert row["product"] == "PERUSSANOMA 1"  # the default product that would have been used


async def test_relation_products_answer_guardians_dependants_and_children(vtj: Running) -> None:
    status, body = await post(
        vtj, "/v1/person-queries", {"hetu": "010280-952L", "product": "vanhempi -lapset ja huollettavat"}
    )
    assert status == 200
    assert body["product"] == "Vanhempi -lapset ja huollettavat"
    person = body["person"]
    lilja = {
        "hetu": "311211A9527",
        "last_name": "Lapsinen",
        "first_names": "Lilja",
        "birth_date": "2011-12-31",
    }
    assert person["dependants"] == [lilja]
    assert person["children"] == [lilja]
    assert "guardians" not in person
    status, body = await post(
        vtj, "/v1/person-queries", {"hetu": "010469-998V", "product": "HUOLTAJA-HUOLLETTAVAT"}
    )
    assert (status, body["person"]["dependants"]) == (200, [])
    status, body = await post(vtj, "/v1/person-queries", {"hetu": "010280-952L"})
    assert not {"guardians", "dependants", "children", "extra"} & set(body["person"])


async def test_a_tailored_products_unmapped_blocks_arrive_as_extra(vtj: Running) -> None:
    status, body = await post(vtj, "/v1/person-queries", {"hetu": "010280-952L", "product": "PERUSLT1"})
    assert status == 200
    assert body["person"]["extra"] == {
        "VakinainenAsuinpaikka": {"Asuinpaikantunnus": "90000130991H045"},
        "Edunvalvonta": {"@tyyppi": "ei", "#text": "0"},
    }


async def test_under_turvakielto_extra_is_withheld_and_named(vtj: Running) -> None:
    status, body = await post(vtj, "/v1/person-queries", {"hetu": "260991-999R", "product": "PERUSLT1"})
    assert status == 200
    person = body["person"]
    assert person["non_disclosure"] is True
    assert "extra" not in person
    assert "extra" in body["redacted"] and "extra" in person["redacted"]
    assert "permanent_address" in body["redacted"]


async def test_a_caller_entitled_to_protected_addresses_gets_extra(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = config(tmp_path, simulator)
    raw["callers"][0]["reveal_protected_addresses"] = True
    running = await start_service(raw)
    status, body = await post(running, "/v1/person-queries", {"hetu": "260991-999R", "product": "PERUSLT1"})
    assert status == 200
    assert body["person"]["extra"]["VakinainenAsuinpaikka"] == {"Asuinpaikantunnus": "90000130991H045"}
    assert "redacted" not in body


# --- buildings and properties -----------------------------------------------------------------------------------


async def test_a_building_is_answered_with_its_data_and_audited_by_its_identifier(
    vtj: Running, simulator: Sim
) -> None:
    status, body = await post(
        vtj, "/v1/building-queries", {"building_id": "100012345A", "apartment_id": "A 2"}
    )
    assert status == 200
    assert set(body) == {
        "outcome",
        "return_code",
        "message_id",
        "xroad_message_id",
        "audit_id",
        "product",
        "data",
    }
    assert (body["outcome"], body["return_code"], body["product"]) == ("found", "0000", "PERUSSANOMA 1")
    assert body["message_id"] == body["xroad_message_id"] == simulator.received[-1]
    building = body["data"]["VTJRakennusVastaussanoma"]["Rakennus"]
    assert building["Rakennustunnus"] == "100012345A"
    assert building["Huoneisto"] == {"Huoneistotunnus": "A 2"}
    rows = await audit_rows(vtj, subject="100012345A")  # with or without an apartment
    (row,) = rows
    assert (row["operation"], row["subject_kind"], row["route"]) == (
        "RakennuksenTunnusKysely",
        "building",
        "xroad",
    )
    assert row["service"] == "FI-TEST/GOV/0245437-2/VTJkysely/RakennuksenTunnusKysely/v1"
    assert row["outcome"] == "found"
    assert "building" in row["data_categories"]


async def test_who_asked_about_building_x_is_answered_by_the_audit(vtj: Running) -> None:
    await post(vtj, "/v1/building-queries", {"building_id": "100012345A"}, token=TOKEN)
    await post(vtj, "/v1/building-queries", {"building_id": "100098765K"}, token=TOKEN)
    await post(vtj, "/v1/building-queries", {"building_id": "100012345A", "apartment_id": "A 1"}, token=TOKEN)
    async with vtj.session.post(
        f"{vtj.base}/v1/audit/search",
        json={"subject": "100012345A"},
        headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"},
    ) as response:
        found = await response.json()
    assert [(r["caller"], r["end_user"], r["subject"], r["operation"]) for r in found["records"]] == [
        ("caseapp", "tester@example.fi", "100012345A", "RakennuksenTunnusKysely")
    ] * 2


async def test_a_building_not_found_has_no_data(vtj: Running) -> None:
    status, body = await post(vtj, "/v1/building-queries", {"building_id": "100099999X"})
    assert (status, body["outcome"], body["return_code"], body["data"]) == (200, "not_found", "0001", None)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"building_id": "200012345A"}, "invalid_building_id"),
        ({"building_id": "100012345A", "apartment_id": "x" * 21}, "invalid_request"),
        ({"building_id": "100012345A", "apartment_id": 2}, "invalid_request"),
        ({}, "invalid_request"),
        ({"building_id": "100012345A", "hetu": "010280-952L"}, "invalid_request"),
    ],
)
async def test_bad_building_requests_are_refused_before_sending(
    vtj: Running, simulator: Sim, body: dict[str, Any], code: str
) -> None:
    status, problem = await post(vtj, "/v1/building-queries", body)
    assert (status, problem["code"]) == (400, code)
    assert simulator.received == []


@pytest.mark.parametrize("written", ["091-403-0001-0005", "91-403-1-5", "09140300010005"])
async def test_a_property_is_sent_and_audited_in_the_14_digit_form(vtj: Running, written: str) -> None:
    sent = spy_on_posts(vtj)
    status, body = await post(vtj, "/v1/property-queries", {"property_id": written})
    assert (status, body["outcome"]) == (200, "found")
    assert body["data"]["VTJKiinteistoVastaussanoma"]["Kiinteisto"]["Nimi"] == "Testitontti"
    assert b"<Kiinteistotunnus>09140300010005</Kiinteistotunnus>" in sent[0]
    (row,) = await audit_rows(vtj, subject="09140300010005")
    assert (row["operation"], row["subject_kind"]) == ("KiinteistonTunnusKysely", "property")


async def test_a_property_query_is_found_by_the_audit_api_in_any_written_form(vtj: Running) -> None:
    assert (await post(vtj, "/v1/property-queries", {"property_id": "09140300010005"}))[0] == 200
    for written in ("91-403-1-5", "091-403-0001-0005", "09140300010005"):
        async with vtj.session.post(
            f"{vtj.base}/v1/audit/search",
            json={"subject": written},
            headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"},
        ) as response:
            found = await response.json()
        assert [r["subject"] for r in found["records"]] == ["09140300010005"], written


async def test_a_refused_valid_property_id_is_recorded_in_the_14_digit_form(vtj: Running) -> None:
    status, _ = await post(vtj, "/v1/property-queries", {"property_id": "91-403-1-5", "hetu": "010280-952L"})
    assert status == 400
    (row,) = await audit_rows(vtj, subject="09140300010005")
    assert (row["subject"], row["reason"]) == ("09140300010005", "invalid_request")


async def test_a_bad_property_identifier_is_invalid_property_id_and_audited(
    vtj: Running, simulator: Sim
) -> None:
    status, problem = await post(vtj, "/v1/property-queries", {"property_id": "91-403-1"})
    assert (status, problem["code"]) == (400, "invalid_property_id")
    assert simulator.received == []
    (row,) = await audit_rows(vtj, subject="91-403-1")
    assert (row["operation"], row["subject_kind"], row["reason"]) == (
        "KiinteistonTunnusKysely",
        "property",
        "invalid_property_id",
    )


# --- identification searches ---------------------------------------------------------------------------------------


async def test_a_caller_without_non_unique_search_is_refused_and_nothing_is_sent(
    vtj: Running, simulator: Sim
) -> None:
    status, problem = await post(
        vtj, "/v1/identification-searches", {"object": "person", "criteria_xml": CRITERIA}
    )
    assert (status, problem["code"]) == (403, "non_unique_search_not_allowed")
    assert simulator.received == []
    (row,) = await audit_rows(vtj, subject=CRITERIA)
    assert (row["operation"], row["subject_kind"], row["reason"]) == (
        "HenkilonTunnistusKysely",
        "criteria",
        "non_unique_search_not_allowed",
    )


@pytest.mark.parametrize(
    ("obj", "criteria", "path"),
    [
        ("person", CRITERIA, ("VTJHenkiloVastaussanoma", "Henkilo", "Henkilotunnus", "#text")),
        (
            "building",
            "<Haku><Lahiosoite>Testikatu 1</Lahiosoite></Haku>",
            ("VTJRakennusVastaussanoma", "Rakennus", "Rakennustunnus"),
        ),
        (
            "property",
            "<Haku><Nimi>Testitontti</Nimi></Haku>",
            ("VTJKiinteistoVastaussanoma", "Kiinteisto", "Kiinteistotunnus"),
        ),
    ],
)
async def test_a_permitted_caller_searches_persons_buildings_and_properties(
    vtj: Running, simulator: Sim, obj: str, criteria: str, path: tuple[str, ...]
) -> None:
    status, body = await post(
        vtj, "/v1/identification-searches", {"object": obj, "criteria_xml": criteria}, token=SEARCH_TOKEN
    )
    assert (status, body["outcome"]) == (200, "found")
    value: Any = body["data"]
    for key in path:
        value = value[key]
    assert value in ("010280-952L", "100012345A", "09140300010005")
    (row,) = await audit_rows(vtj, subject=criteria)
    assert row["subject_kind"] == "criteria"
    assert row["operation"].endswith("TunnistusKysely")


async def test_persons_under_turvakielto_found_by_criteria_lose_their_address(vtj: Running) -> None:
    status, body = await post(
        vtj,
        "/v1/identification-searches",
        {
            "object": "person",
            "criteria_xml": "<Haku><Sukunimi>Suojattu</Sukunimi></Haku>",
            "product": "PERUSSANOMA 3",
        },
        token=SEARCH_TOKEN,
    )
    assert status == 200
    henkilo = body["data"]["VTJHenkiloVastaussanoma"]["Henkilo"]
    assert "VakinainenKotimainenLahiosoite" not in henkilo and "Kotikunta" not in henkilo
    assert body["redacted"] == ["protected_person_details"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"object": "person", "criteria_xml": "<Haku>"}, "invalid_criteria"),
        ({"object": "person", "criteria_xml": "<?pi x?><Haku/>"}, "invalid_criteria"),
        (
            {"object": "person", "criteria_xml": '<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>'},
            "invalid_criteria",
        ),
        ({"object": "person", "criteria_xml": "<a>" + "x" * 9000 + "</a>"}, "invalid_criteria"),
        ({"object": "vehicle", "criteria_xml": CRITERIA}, "invalid_request"),
        ({"object": "person"}, "invalid_criteria"),
    ],
)
async def test_bad_criteria_are_refused_before_sending(
    vtj: Running, simulator: Sim, body: dict[str, Any], code: str
) -> None:
    status, problem = await post(vtj, "/v1/identification-searches", body, token=SEARCH_TOKEN)
    assert (status, problem["code"]) == (400, code)
    assert simulator.received == []


async def test_criteria_never_appear_in_a_log_line(vtj: Running, simulator: Sim) -> None:
    stream = io.StringIO()
    configure_logging("debug", stream=stream)
    secret = "<Haku><Sukunimi>Salaisuus</Sukunimi></Haku>"
    try:
        await post(
            vtj,
            "/v1/identification-searches",
            {"object": "person", "criteria_xml": secret},
            token=SEARCH_TOKEN,
        )
        await post(vtj, "/v1/identification-searches", {"object": "person", "criteria_xml": secret})
        await post(vtj, "/v1/identification-searches", {"object": "person", "criteria_xml": secret + "<"})
        simulator.knobs(mode="fault", fault="access_denied")
        await post(
            vtj,
            "/v1/identification-searches",
            {"object": "person", "criteria_xml": secret},
            token=SEARCH_TOKEN,
        )
    finally:
        configure_logging("info")
    text = stream.getvalue()
    assert any(json.loads(line).get("event") == "upstream_failed" for line in text.splitlines())
    assert "Salaisuus" not in text and "Haku" not in text


# --- products, services, quotas, metrics ------------------------------------------------------------------------------


async def test_the_product_is_sent_audited_and_answered_in_the_permits_spelling(vtj: Running) -> None:
    sent = spy_on_posts(vtj)
    status, body = await post(vtj, "/v1/person-queries", {"hetu": "010280-952L", "product": "perussanoma 3"})
    assert (status, body["product"]) == (200, "PERUSSANOMA 3")
    assert b"<SoSoNimi>PERUSSANOMA 3</SoSoNimi>" in sent[0]
    (row,) = await audit_rows(vtj, xroad_id=body["xroad_message_id"])
    assert row["product"] == "PERUSSANOMA 3"


async def test_the_permit_match_is_ascii_case_insensitive_only(vtj: Running, simulator: Sim) -> None:
    status, problem = await post(
        vtj, "/v1/person-queries", {"hetu": "010280-952L", "product": "PERUßANOMA 1"}
    )
    assert (status, problem["code"]) == (403, "product_not_allowed")
    status, problem = await post(
        vtj, "/v1/building-queries", {"building_id": "100012345A", "product": "PERUSSANOMA 2"}
    )
    assert (status, problem["code"]) == (403, "product_not_allowed")
    assert simulator.received == []


async def test_an_operation_uses_the_service_configured_for_it(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = config(
        tmp_path,
        simulator,
        services={"RakennuksenTunnusKysely": "FI-TEST/GOV/0245437-2/VTJkysely2/RakennuksenTunnusKysely/v2"},
    )
    running = await start_service(raw)
    status, problem = await post(running, "/v1/building-queries", {"building_id": "100012345A"})
    # The simulator offers no such service: the security server's unknown_service fault proves where it went.
    assert (status, problem["code"]) == (502, "upstream_fault")
    status, body = await post(running, "/v1/property-queries", {"property_id": "09140300010005"})
    assert (status, body["outcome"]) == (200, "found")


async def test_quotas_count_every_operation(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = config(tmp_path, simulator)
    raw["callers"][0]["quotas"] = {**NO_QUOTAS, "per_end_user_per_minute": 2}
    running = await start_service(raw)
    assert (await post(running, "/v1/building-queries", {"building_id": "100012345A"}))[0] == 200
    assert (await post(running, "/v1/property-queries", {"property_id": "09140300010005"}))[0] == 200
    status, problem = await post(running, "/v1/person-queries", {"hetu": "010280-952L"})
    assert (status, problem["code"]) == (429, "quota_exceeded")


async def test_query_metrics_carry_the_operation(vtj: Running) -> None:
    await post(vtj, "/v1/building-queries", {"building_id": "100012345A"})
    await post(vtj, "/v1/property-queries", {"property_id": "1-2-3-4"})
    metrics = vtj.service.metrics.registry
    assert (
        metrics.get_sample_value(
            "xroad_vtj_queries_total", {"operation": "RakennuksenTunnusKysely", "outcome": "found"}
        )
        == 1.0
    )
    assert (
        metrics.get_sample_value(
            "xroad_vtj_queries_total", {"operation": "KiinteistonTunnusKysely", "outcome": "not_found"}
        )
        == 1.0
    )
    assert (
        metrics.get_sample_value(
            "xroad_vtj_upstream_requests_total",
            {"operation": "RakennuksenTunnusKysely", "outcome": "found", "fault_family": "none"},
        )
        == 1.0
    )


async def test_return_codes_and_quota_refusals_are_counted_for_every_operation(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = config(tmp_path, simulator)
    raw["callers"][0]["quotas"] = {**NO_QUOTAS, "per_end_user_per_minute": 1}
    running = await start_service(raw)
    assert (await post(running, "/v1/building-queries", {"building_id": "100012345A"}))[0] == 200
    status, problem = await post(running, "/v1/property-queries", {"property_id": "09140300010005"})
    assert (status, problem["code"]) == (429, "quota_exceeded")
    metrics = running.service.metrics.registry
    assert metrics.get_sample_value("xroad_vtj_vtj_return_codes_total", {"return_code": "0000"}) == 1.0
    assert (
        metrics.get_sample_value(
            "xroad_vtj_quota_refusals_total", {"caller": "caseapp", "quota": "per_end_user_per_minute"}
        )
        == 1.0
    )


# --- end users: one rule for every operation (issue 11 §2) ---------------------------------------------------------

CYRILLIC_A = "\u0430"
EVERY_OPERATION = [
    ("/v1/person-queries", {"hetu": "010280-952L"}, TOKEN),
    ("/v1/person-queries", {"satu": "99999952L"}, TOKEN),
    ("/v1/building-queries", {"building_id": "100012345A"}, TOKEN),
    ("/v1/property-queries", {"property_id": "09140300010005"}, TOKEN),
    ("/v1/identification-searches", {"object": "person", "criteria_xml": CRITERIA}, SEARCH_TOKEN),
]
OPERATION_IDS = ["hetu", "satu", "building", "property", "search"]


@pytest.mark.parametrize(("path", "body", "token"), EVERY_OPERATION, ids=OPERATION_IDS)
@pytest.mark.parametrize(
    "end_user", [f"m{CYRILLIC_A}ija", " maija", "maija\u3000"], ids=["mixed", "lead", "trail"]
)
async def test_every_operation_refuses_an_end_user_that_could_pass_for_another(
    vtj: Running, simulator: Sim, path: str, body: dict[str, Any], token: str, end_user: str
) -> None:
    status, problem = await post(vtj, path, {**body, "end_user": end_user}, token=token)
    assert (status, problem["code"], problem.get("field")) == (400, "invalid_request", "end_user")
    assert simulator.received == []


@pytest.mark.parametrize(("path", "body", "token"), EVERY_OPERATION, ids=OPERATION_IDS)
async def test_every_operation_holds_a_caller_to_its_end_user_pattern(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path, path: str, body: dict[str, Any], token: str
) -> None:
    raw = config(tmp_path, simulator)
    for caller in raw["callers"]:
        caller["end_user_pattern"] = "[a-z]+[.][a-z]+"
    running = await start_service(raw)
    status, problem = await post(running, path, {**body, "end_user": "tester@example.fi"}, token=token)
    assert (status, problem["code"], problem.get("field")) == (400, "invalid_request", "end_user")
    assert simulator.received == []
    status, _ = await post(running, path, {**body, "end_user": "maija.virtanen"}, token=token)
    assert status == 200


# --- passivated answers -----------------------------------------------------------------------------------------------


async def test_a_passivated_answer_records_the_new_active_hetu(vtj: Running) -> None:
    status, body = await post(vtj, "/v1/person-queries", {"hetu": "010469-999W"})
    assert (status, body["outcome"], body["new_active_hetu"]) == (200, "passivated", "010469-998V")
    (row,) = await audit_rows(vtj, xroad_id=body["xroad_message_id"])
    assert row["new_subject"] == "010469-998V"


async def test_a_search_by_the_new_hetu_finds_the_query_whose_data_came_back_under_it(vtj: Running) -> None:
    _, body = await post(vtj, "/v1/person-queries", {"hetu": "010469-999W"})
    rows = await audit_rows(vtj, subject="010469-998V")
    assert [r["audit_id"] for r in rows] == [body["audit_id"]]


# --- product schemas -------------------------------------------------------------------------------------------------


async def get(running: Running, path: str, token: str = TOKEN) -> tuple[int, str, bytes]:
    async with running.session.get(
        f"{running.base}{path}", headers={"Authorization": f"Bearer {token}"}
    ) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


async def test_a_product_schema_is_answered_as_xml_and_cached(vtj: Running, simulator: Sim) -> None:
    status, content_type, document = await get(vtj, "/v1/products/perussanoma%203/schema?kind=2")
    assert status == 200
    assert content_type.startswith("application/xml")
    assert b"<xs:schema" in document and b"PERUSSANOMA 3, laji 2" in document
    assert len(simulator.received) == 1
    status, _, again = await get(vtj, "/v1/products/PERUSSANOMA%203/schema?kind=2")
    assert (status, again) == (200, document)
    assert len(simulator.received) == 1  # from the cache
    await get(vtj, "/v1/products/PERUSSANOMA%203/schema")
    assert len(simulator.received) == 2  # kind 1 is another schema
    assert await audit_rows(vtj) == []  # not an audited person query


@pytest.mark.parametrize(
    ("path", "token", "status", "code"),
    [
        ("/v1/products/PERUSSANOMA%202/schema", TOKEN, 403, "product_not_allowed"),
        ("/v1/products/PERUSSANOMA%201/schema?kind=x", TOKEN, 400, "invalid_request"),
        ("/v1/products/PERUSSANOMA%201/schema?kind=-1", TOKEN, 400, "invalid_request"),
        ("/v1/products/PERUSSANOMA%201/schema?other=1", TOKEN, 400, "invalid_request"),
        ("/v1/products/PERUSSANOMA%201/schema", AUDITOR_TOKEN, 403, "forbidden"),
    ],
)
async def test_schema_requests_outside_the_permit_or_malformed_are_refused(
    vtj: Running, simulator: Sim, path: str, token: str, status: int, code: str
) -> None:
    got, content_type, body = await get(vtj, path, token)
    assert (got, json.loads(body)["code"]) == (status, code)
    assert content_type.startswith("application/problem+json")
    assert simulator.received == []


async def test_a_schema_vtj_refuses_is_upstream_rejected_and_not_cached(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = config(tmp_path, simulator)
    raw["callers"][0]["products"] = [*PRODUCTS, "EI TUOTE"]
    running = await start_service(raw)
    for _ in range(2):
        status, _, body = await get(running, "/v1/products/EI%20TUOTE/schema")
        assert (status, json.loads(body)["code"]) == (502, "upstream_rejected")
    assert len(simulator.received) == 2


async def test_an_unexpected_failure_after_sending_still_records_an_outcome(
    vtj: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xroad_vtj import query

    def broken(*_: Any) -> Any:
        raise RuntimeError("a reader bug")

    monkeypatch.setitem(query.READERS, "RakennuksenTunnusKysely", broken)
    status, problem = await post(vtj, "/v1/building-queries", {"building_id": "100012345A"})
    # An answer in hand that cannot be read is invalid_upstream_response (docs/reliability.md); none of it leaves.
    assert (status, problem["code"]) == (502, "invalid_upstream_response")
    assert "data" not in problem
    (row,) = await audit_rows(vtj, subject="100012345A")
    assert (row["outcome"], row["http_status"]) == ("invalid_upstream_response", 502)
    assert problem["xroad_message_id"] == row["xroad_message_id"]


def test_the_published_request_schemas_match_the_validation() -> None:
    common = {"end_user": "tester@example.fi", "purpose": "CASE-2026-1"}
    assert_schema("PersonQuery", {"satu": "99999952L", **common})
    assert_schema("PersonQuery", {"hetu": "010280-952L", **common})
    assert_schema("BuildingQuery", {"building_id": "100012345A", "apartment_id": "A 2", **common})
    assert_schema("PropertyQuery", {"property_id": "91-403-1-5", **common})
    assert_schema("IdentificationSearch", {"object": "person", "criteria_xml": CRITERIA, **common})
    for name, body in (
        ("PersonQuery", {"hetu": "010280-952L", "satu": "99999952L", **common}),
        ("PersonQuery", common),
        ("BuildingQuery", {"building_id": "200012345A", **common}),
        ("PropertyQuery", {"property_id": "91-403-1", **common}),
        ("IdentificationSearch", {"object": "vehicle", "criteria_xml": CRITERIA, **common}),
    ):
        with pytest.raises(jsonschema.ValidationError):
            assert_schema(name, body)


async def test_prove_and_export_cover_building_property_and_search_queries(vtj: Running) -> None:
    from datetime import UTC, datetime, timedelta

    _, building = await post(vtj, "/v1/building-queries", {"building_id": "100012345A"})
    _, prop = await post(vtj, "/v1/property-queries", {"property_id": "09140300010005"})
    _, search = await post(
        vtj, "/v1/identification-searches", {"object": "person", "criteria_xml": CRITERIA}, token=SEARCH_TOKEN
    )
    store = vtj.service.store
    for answer, operation in (
        (building, b"RakennuksenTunnusKysely"),
        (prop, b"KiinteistonTunnusKysely"),
        (search, b"HenkilonTunnistusKysely"),
    ):
        evidence = await store.prove(answer["xroad_message_id"])
        assert operation in evidence
    now = datetime.now(UTC)
    exported = await store.export(now - timedelta(minutes=5), now + timedelta(minutes=5))
    for operation in (b"RakennuksenTunnusKysely", b"KiinteistonTunnusKysely", b"HenkilonTunnistusKysely"):
        assert operation in exported


async def test_the_role_and_the_permit_are_each_checked_once_per_query(
    vtj: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xroad_vtj.policy
    import xroad_vtj.query

    calls: list[str] = []
    require_role, permitted = xroad_vtj.policy.Policy.require_role, xroad_vtj.policy.permitted_product

    def counted_role(caller: Any, role: str) -> None:
        calls.append(f"role:{role}")
        require_role(caller, role)

    def counted_permit(caller: Any, product: str) -> str | None:
        calls.append("permit")
        return permitted(caller, product)

    monkeypatch.setattr(xroad_vtj.policy.Policy, "require_role", staticmethod(counted_role))
    monkeypatch.setattr(xroad_vtj.policy, "permitted_product", counted_permit)
    monkeypatch.setattr(xroad_vtj.query, "permitted_product", counted_permit)
    assert (await post(vtj, "/v1/building-queries", {"building_id": "100012345A"}))[0] == 200
    assert sorted(calls) == ["permit", "role:query"]
