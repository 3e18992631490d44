"""The direct route's SoSo flavour: request bytes, SOAPAction, and answers handed on in the X-Road shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from xroad_vtj.errors import InvalidUpstreamResponse, UpstreamFault
from xroad_vtj.vtj import Outcome, parse_henkilon_tunnus_kysely_response
from xroad_vtj.vtj.operations import (
    BUILDING_QUERY,
    BUILDING_SEARCH,
    OPERATIONS,
    PERSON_QUERY,
    PERSON_SEARCH,
    PROPERTY_QUERY,
    PROPERTY_SEARCH,
    parse_generic_response,
)
from xroad_vtj.vtj.soso import (
    DIRECT_ELEMENTS,
    build_soso_request,
    build_soso_schema_request,
    parse_soso_response,
    soap_action,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vtj" / "direct"
MAX = 2 * 1024 * 1024

REQUESTS = {
    "person-by-satu": (PERSON_QUERY, [("SahkoinenAsiointitunnus", "99999952L")]),
    "building-query": (BUILDING_QUERY, [("Rakennustunnus", "100012345A"), ("Huoneistotunnus", "A 2")]),
    "property-query": (PROPERTY_QUERY, [("Kiinteistotunnus", "09140300010005")]),
    "person-search": (
        PERSON_SEARCH,
        [("HakuXml", '<Haku><Sukunimi>Testinen</Sukunimi><Note a="&amp;"/></Haku>')],
    ),
    "building-search": (BUILDING_SEARCH, [("HakuXml", "<Haku><Lahiosoite>Testikatu 1</Lahiosoite></Haku>")]),
    "property-search": (PROPERTY_SEARCH, [("HakuXml", "<Haku><Nimi>Testitontti</Nimi></Haku>")]),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_every_operation_is_sent_flat_in_the_tempuri_namespace_as_its_byte_fixture(name: str) -> None:
    operation, fields = REQUESTS[name]
    sent = build_soso_request(
        operation,
        product="PERUSSANOMA 1",
        username="demo-user",
        password="demo-password",
        end_user="tester@example.fi",
        fields=fields,
    )
    assert sent == (FIXTURES / f"request-{name}.xml").read_bytes()
    assert b"x-road" not in sent.lower()
    assert b"<request>" not in sent


def test_the_schema_request_uses_laji() -> None:
    assert build_soso_schema_request("PERUSSANOMA 3", 1) == (FIXTURES / "request-schema.xml").read_bytes()


def test_every_operation_has_its_quoted_soap_action() -> None:
    assert set(DIRECT_ELEMENTS) == set(OPERATIONS)
    assert soap_action(BUILDING_QUERY) == '"http://tempuri.org/TeeRakennusTunnusKysely"'
    assert soap_action(PROPERTY_QUERY) == '"http://tempuri.org/TeeKiinteistoTunnusKysely"'
    assert soap_action(PERSON_QUERY) == '"http://tempuri.org/TeeHenkilonTunnusKysely"'


@pytest.mark.parametrize("name", ["person-found.xml", "person-found-escaped.xml"])
def test_a_person_answer_is_read_by_the_x_road_routes_reader_as_elements_or_escaped_text(name: str) -> None:
    wrapper = parse_soso_response(
        (FIXTURES / name).read_bytes(), "text/xml; charset=utf-8", PERSON_QUERY, max_bytes=MAX
    )
    result = parse_henkilon_tunnus_kysely_response(wrapper)
    assert (result.outcome, result.return_code) == (Outcome.FOUND, "0000")
    assert result.person is not None
    assert (result.person.hetu, result.person.last_name, result.person.first_names) == (
        "010280-952L",
        "Testinen",
        "Aino Maria",
    )
    assert result.person.home_municipality is not None and result.person.home_municipality.code == "091"


def test_a_building_answer_is_read_by_the_generic_reader() -> None:
    wrapper = parse_soso_response(
        (FIXTURES / "building-found.xml").read_bytes(), "text/xml", BUILDING_QUERY, max_bytes=MAX
    )
    result = parse_generic_response(wrapper, BUILDING_QUERY)
    assert result.outcome is Outcome.FOUND
    assert result.data == {
        "VTJRakennusVastaussanoma": {
            "@sanomatunnus": "PERUSSANOMA 1",
            "Paluukoodi": {"@koodi": "0000", "#text": "Haku onnistui"},
            "Rakennus": {"Rakennustunnus": "100012345A"},
        }
    }


def test_a_soap_fault_is_an_upstream_fault() -> None:
    with pytest.raises(UpstreamFault) as caught:
        parse_soso_response((FIXTURES / "fault.xml").read_bytes(), "text/xml", PERSON_QUERY, max_bytes=MAX)
    assert caught.value.extra["fault_code"] == "soap:Server"


@pytest.mark.parametrize(
    ("name", "operation"),
    [
        ("wrong-operation.xml", PERSON_QUERY),
        ("two-results.xml", PERSON_QUERY),
        ("xroad-envelope.xml", BUILDING_QUERY),
        ("person-escaped-doctype.xml", PERSON_QUERY),
    ],
)
def test_anything_but_the_operations_one_result_is_an_invalid_upstream_response(
    name: str, operation: str
) -> None:
    with pytest.raises(InvalidUpstreamResponse):
        parse_soso_response((FIXTURES / name).read_bytes(), "text/xml", operation, max_bytes=MAX)


def test_a_dtd_around_the_envelope_and_an_oversized_answer_are_refused() -> None:
    data = (FIXTURES / "person-found.xml").read_bytes()
    with_dtd = data.replace(b"<soap:Envelope", b'<!DOCTYPE x [<!ENTITY a "b">]><soap:Envelope', 1)
    with pytest.raises(InvalidUpstreamResponse):
        parse_soso_response(with_dtd, "text/xml", PERSON_QUERY, max_bytes=MAX)
    with pytest.raises(InvalidUpstreamResponse):
        parse_soso_response(data, "text/xml", PERSON_QUERY, max_bytes=100)
