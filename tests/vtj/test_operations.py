"""Request bodies of every operation (byte fixtures) and the generic answers of buildings, properties, searches."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from xroad_vtj.errors import InvalidRequest, InvalidUpstreamResponse, UpstreamRejected
from xroad_vtj.vtj import Outcome
from xroad_vtj.vtj.operations import (
    BUILDING_QUERY,
    BUILDING_SEARCH,
    PERSON_QUERY,
    PERSON_SEARCH,
    PROPERTY_QUERY,
    PROPERTY_SEARCH,
    SCHEMA_QUERY,
    build_operation_body,
    build_schema_body,
    named_objects,
    parse_generic_response,
    parse_schema_response,
    withhold_protected_persons,
)
from xroad_vtj.xroad import ClientId, Headers, ServiceId, build_request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vtj" / "operations"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
CLIENT = ClientId.parse("FI-TEST/MUN/0101263-6/caseapp")
SERVICE = ServiceId.parse("FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1")
MESSAGE_ID = "4d1d6c55-5a4d-4b0e-9b43-6a0c0d8b4a11"

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


def body(operation: str, fields: list[tuple[str, str]], **changes: str) -> etree._Element:
    args = {
        "product": "PERUSSANOMA 1",
        "username": "demo-user",
        "password": "demo-password",
        "end_user": "tester@example.fi",
        **changes,
    }
    return build_operation_body(operation, fields=fields, **args)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_every_operation_is_sent_as_its_byte_fixture(name: str) -> None:
    operation, fields = REQUESTS[name]
    headers = Headers(
        CLIENT, SERVICE.with_code(operation, "v1"), MESSAGE_ID, "tester@example.fi", "CASE-2026-1"
    )
    assert build_request(headers, body(operation, fields)) == (FIXTURES / f"request-{name}.xml").read_bytes()


def test_the_schema_request_carries_product_and_kind_only() -> None:
    headers = Headers(CLIENT, SERVICE.with_code(SCHEMA_QUERY, "v1"), MESSAGE_ID, "xroad-vtj")
    sent = build_request(headers, build_schema_body("PERUSSANOMA 3", 1))
    assert sent == (FIXTURES / "request-schema.xml").read_bytes()
    assert b"Salasana" not in sent


def test_criteria_travel_as_escaped_text_and_read_back_unchanged() -> None:
    criteria = '<Haku><Sukunimi>Testinen</Sukunimi><Note a="&amp;"/></Haku>'
    element = body(PERSON_SEARCH, [("HakuXml", criteria)])
    assert b"<Haku>" not in etree.tostring(element)
    assert element[0][-1].text == criteria


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"product": " "}, "SoSoNimi"),
        ({"username": ""}, "Kayttajatunnus"),
        ({"password": ""}, "Salasana"),
        ({"end_user": "x" * 51}, "Loppukayttaja"),
        ({"end_user": "bad\x01"}, "Loppukayttaja"),
    ],
)
def test_a_bad_common_field_is_refused_naming_the_field(changes: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        body(BUILDING_QUERY, [("Rakennustunnus", "100012345A")], **changes)
    assert field in caught.value.detail


def test_fields_out_of_schema_order_or_foreign_to_the_operation_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        body(BUILDING_QUERY, [("Huoneistotunnus", "A 2"), ("Rakennustunnus", "100012345A")])
    with pytest.raises(ValueError):
        body(PROPERTY_QUERY, [("Henkilotunnus", "010280-952L")])


# --- answers ---------------------------------------------------------------------------------------------------


def wrapper(name: str) -> etree._Element:
    envelope = etree.fromstring((FIXTURES / name).read_bytes(), PARSER)
    (soap_body,) = [c for c in envelope if etree.QName(c).localname == "Body"]
    return next(c for c in soap_body if isinstance(c.tag, str))


def test_a_found_building_is_its_response_content_as_generic_json() -> None:
    result = parse_generic_response(wrapper("building-found.xml"), BUILDING_QUERY)
    assert (result.outcome, result.return_code, result.fault_code) == (Outcome.FOUND, "0000", None)
    assert result.product == "PERUSSANOMA 1"
    assert result.data == {
        "VTJRakennusVastaussanoma": {
            "@sanomatunnus": "PERUSSANOMA 1",
            "@tietojenPoimintaaika": "20261201101500",
            "Paluukoodi": {"@koodi": "0000", "#text": "Haku onnistui"},
            "Rakennus": {
                "Rakennustunnus": "100012345A",
                "Osoite": {"Lahiosoite": "Testikatu 1", "Postinumero": "00100"},
                "PintaAla": {"@yksikko": "m2", "#text": "1250"},
                "Huoneisto": [{"Huoneistotunnus": "A 1"}, {"Huoneistotunnus": "A 2"}],
                "Valmistumispvm": "19650101",
            },
        }
    }
    assert "Testikatu" not in repr(result)


def test_a_building_not_found_arrives_as_body_faultcode_0001_without_data() -> None:
    result = parse_generic_response(wrapper("building-not-found-0001.xml"), BUILDING_QUERY)
    assert (result.outcome, result.fault_code, result.data) == (Outcome.NOT_FOUND, "0001", None)


def test_a_property_is_read_whatever_the_order_of_request_and_response() -> None:
    result = parse_generic_response(wrapper("property-found.xml"), PROPERTY_QUERY)
    assert result.outcome is Outcome.FOUND
    assert result.data is not None
    assert result.data["VTJKiinteistoVastaussanoma"]["Kiinteisto"]["Kiinteistotunnus"] == "09140300010005"


def test_a_refusal_code_is_upstream_rejected_and_carries_no_data() -> None:
    result = parse_generic_response(wrapper("property-unknown-product-1901.xml"), PROPERTY_QUERY)
    assert (result.outcome, result.return_code, result.data) == (Outcome.UPSTREAM_REJECTED, "-1901", None)


def test_an_empty_response_or_another_operations_answer_is_invalid() -> None:
    with pytest.raises(InvalidUpstreamResponse):
        parse_generic_response(wrapper("property-empty-response.xml"), PROPERTY_QUERY)
    with pytest.raises(InvalidUpstreamResponse):
        parse_generic_response(wrapper("property-found.xml"), BUILDING_QUERY)


def _answer(response_xml: str, operation: str = BUILDING_QUERY) -> etree._Element:
    return etree.fromstring(
        f'<{operation}Response xmlns="http://xml.vrk.fi/ws/vtj/vtjkysely/1"><response>{response_xml}</response>'
        f"</{operation}Response>".encode()
    )


def test_a_fault_without_a_code_is_not_found_and_is_never_data() -> None:
    result = parse_generic_response(
        _answer("<faultCode/><faultString>Tekninen virhe</faultString>"), BUILDING_QUERY
    )
    assert (result.outcome, result.fault_code, result.data) == (Outcome.UPSTREAM_REJECTED, None, None)


def test_empty_fault_elements_beside_a_document_stay_out_of_its_data() -> None:
    result = parse_generic_response(
        _answer(
            '<VTJRakennusVastaussanoma sanomatunnus="PERUSSANOMA 1"><Paluukoodi koodi="0000"/>'
            "<Rakennus><Rakennustunnus>100012345A</Rakennustunnus></Rakennus></VTJRakennusVastaussanoma>"
            "<faultCode/><faultString>x</faultString>"
        ),
        BUILDING_QUERY,
    )
    assert result.outcome is Outcome.FOUND
    assert result.data is not None and set(result.data) == {"VTJRakennusVastaussanoma"}


@pytest.mark.parametrize(
    "codes",
    [
        '<Paluukoodi koodi="0000"/><Paluukoodi koodi="0001"/>',
        '<Paluukoodi koodi="0001"/><Paluukoodi koodi="0000"/>',
        '<Paluukoodi koodi="0000"/><Paluukoodi/>',
    ],
)
def test_contradicting_return_codes_in_a_generic_answer_are_invalid(codes: str) -> None:
    document = (
        f"<VTJRakennusVastaussanoma>{codes}<Rakennus><Rakennustunnus>100012345A</Rakennustunnus></Rakennus>"
    )
    with pytest.raises(InvalidUpstreamResponse, match="contradicting"):
        parse_generic_response(_answer(document + "</VTJRakennusVastaussanoma>"), BUILDING_QUERY)


def test_persons_under_turvakielto_found_by_criteria_keep_only_who_they_are() -> None:
    found = wrapper("person-search-found.xml")
    assert withhold_protected_persons(found) is True
    data = parse_generic_response(found, PERSON_SEARCH).data
    assert data is not None
    open_person, protected = data["VTJHenkiloVastaussanoma"]["Henkilo"]
    assert open_person["VakinainenKotimainenLahiosoite"] == {"LahiosoiteS": "Testikatu 1 A 2"}
    assert set(protected) == {"Henkilotunnus", "NykyinenSukunimi", "Turvakielto"}
    assert withhold_protected_persons(wrapper("building-found.xml")) is False


@pytest.mark.parametrize(
    "flag",
    [
        "<TurvakieltoTieto>2</TurvakieltoTieto>",
        "<TurvakieltoTieto><x>1</x></TurvakieltoTieto>",
        "<TurvakieltoTieto>0</TurvakieltoTieto><TurvakieltoTieto>1</TurvakieltoTieto>",
        "<TurvakieltoTieto>kyllä</TurvakieltoTieto>",
    ],
    ids=["unknown-code", "child-element", "second-flag", "text"],
)
def test_a_turvakielto_flag_that_cannot_be_read_withholds_as_the_person_query_does(flag: str) -> None:
    # Read fail-closed, by the same rule as the person query (vtj/response.py): unreadable means protected.
    found = wrapper("person-search-found.xml")
    (first, _) = found.iter("{*}Henkilo")
    (block,) = [b for b in first if etree.QName(b).localname == "Turvakielto"]
    block.clear()
    for child in etree.fromstring(f"<r>{flag}</r>"):
        block.append(child)
    assert withhold_protected_persons(found) is True
    kept = {etree.QName(b).localname for b in first}
    assert "VakinainenKotimainenLahiosoite" not in kept and "Henkilotunnus" in kept


def test_a_protected_henkilo_in_any_generic_answer_is_withheld() -> None:
    # A building answer that carries a resident under turvakielto keeps only who the resident is.
    answer = building_with_protected_resident()
    (resident,) = answer.iter("{*}Henkilo")
    assert withhold_protected_persons(answer) is True
    assert [etree.QName(b).localname for b in resident] == ["Henkilotunnus", "Turvakielto"]


def building_with_protected_resident() -> etree._Element:
    answer = wrapper("building-found.xml")
    (building,) = answer.iter("{*}Rakennus")
    ns = etree.QName(building).namespace
    resident = etree.SubElement(building, f"{{{ns}}}Henkilo")
    for name, text in (("Henkilotunnus", "260991-999R"), ("Puhelin", "0401234567")):
        etree.SubElement(resident, f"{{{ns}}}{name}").text = text
    etree.SubElement(
        etree.SubElement(resident, f"{{{ns}}}Turvakielto"), f"{{{ns}}}TurvakieltoTieto"
    ).text = "1"
    return answer


def test_the_pipeline_withholds_a_protected_resident_of_a_building_unless_the_caller_may_see_it() -> None:
    from xroad_vtj.config import CallerConfig
    from xroad_vtj.query import VtjQuery, read_generic

    query = VtjQuery.building(
        building_id="100012345A", apartment_id=None, product="PERUSSANOMA 1", end_user="t", purpose="p"
    )
    hidden = read_generic(building_with_protected_resident(), query, CallerConfig(name="c"))
    assert hidden.withheld == ("protected_person_details",)
    assert "0401234567" not in str(hidden.data)
    shown = read_generic(
        building_with_protected_resident(), query, CallerConfig(name="c", reveal_protected_addresses=True)
    )
    assert shown.withheld == () and "0401234567" in str(shown.data)


def test_the_schema_answer_is_the_schema_document_and_a_fault_is_a_refusal() -> None:
    document = parse_schema_response(wrapper("schema.xml"))
    schema = etree.fromstring(document)
    assert etree.QName(schema).localname == "schema"
    assert schema.get("targetNamespace") == "http://xml.vrk.fi/schema/vtjkysely"
    with pytest.raises(UpstreamRejected) as caught:
        parse_schema_response(wrapper("schema-unknown-product.xml"))
    assert caught.value.extra["return_code"] == "-1901"


# --- the object a building or property answer is about (issue 14 §5) ------------------------------------------


def _read_object(answer: etree._Element, operation: str, asked: str) -> object:
    from xroad_vtj.config import CallerConfig
    from xroad_vtj.query import VtjQuery, read_generic

    if operation == BUILDING_QUERY:
        query = VtjQuery.building(
            building_id=asked, apartment_id=None, product="PERUSSANOMA 1", end_user="t", purpose="p"
        )
    else:
        query = VtjQuery.property(property_id=asked, product="PERUSSANOMA 1", end_user="t", purpose="p")
    return read_generic(answer, query, CallerConfig(name="c"))


def _rename(answer: etree._Element, path: str, value: str) -> etree._Element:
    for element in answer.iterfind(path):
        element.text = value
    return answer


def test_the_simulators_building_and_property_answers_name_the_object_asked() -> None:
    from xroad_vtj.simulator.objects import building_answer, property_answer

    building = building_answer({"Rakennustunnus": "100012345A"}, "PERUSSANOMA 1")
    assert named_objects(building, BUILDING_QUERY) == ("100012345A", ("100012345A",))
    _read_object(building, BUILDING_QUERY, "100012345A")
    prop = property_answer({"Kiinteistotunnus": "09140300010005"}, "PERUSSANOMA 1")
    assert named_objects(prop, PROPERTY_QUERY) == ("09140300010005", ("09140300010005",))
    _read_object(prop, PROPERTY_QUERY, "09140300010005")


@pytest.mark.parametrize(
    ("operation", "path", "other"),
    [
        (
            BUILDING_QUERY,
            "{*}response/{*}VTJRakennusVastaussanoma/{*}Rakennus/{*}Rakennustunnus",
            "100098765K",
        ),
        (BUILDING_QUERY, "{*}request/{*}Rakennustunnus", "100098765K"),
        (
            PROPERTY_QUERY,
            "{*}response/{*}VTJKiinteistoVastaussanoma/{*}Kiinteisto/{*}Kiinteistotunnus",
            "1-2-3-4",
        ),
        (PROPERTY_QUERY, "{*}request/{*}Kiinteistotunnus", "09140300010006"),
    ],
)
def test_an_answer_about_another_building_or_property_is_inconsistent(
    operation: str, path: str, other: str
) -> None:
    from xroad_vtj.errors import InconsistentResponse
    from xroad_vtj.simulator.objects import building_answer, property_answer

    if operation == BUILDING_QUERY:
        asked, answer = "100012345A", building_answer({"Rakennustunnus": "100012345A"}, "PERUSSANOMA 1")
    else:
        asked, answer = (
            "09140300010005",
            property_answer({"Kiinteistotunnus": "09140300010005"}, "PERUSSANOMA 1"),
        )
    with pytest.raises(InconsistentResponse):
        _read_object(_rename(answer, path, other), operation, asked)


def test_related_objects_and_a_property_written_with_dashes_are_the_object_asked() -> None:
    from xroad_vtj.simulator.objects import property_answer

    answer = property_answer({"Kiinteistotunnus": "09140300010005"}, "PERUSSANOMA 1")
    _rename(
        answer, "{*}response/{*}VTJKiinteistoVastaussanoma/{*}Kiinteisto/{*}Kiinteistotunnus", "91-403-1-5"
    )
    # the property's buildings are named by Rakennustunnus inside it: related objects, not another property
    _read_object(answer, PROPERTY_QUERY, "09140300010005")


def test_a_not_found_building_answer_names_no_object_and_passes() -> None:
    from xroad_vtj.simulator.objects import building_answer

    answer = building_answer({"Rakennustunnus": "100099999X"}, "PERUSSANOMA 1")
    for echo in answer.iterfind("{*}request"):
        answer.remove(echo)
    _read_object(answer, BUILDING_QUERY, "100099999X")


def test_configuration_names_the_same_operations_as_the_protocol() -> None:
    # config.py keeps its own copy so that loading configuration does not import the protocol code
    from xroad_vtj.config import VTJ_OPERATIONS
    from xroad_vtj.vtj.operations import OPERATIONS

    assert VTJ_OPERATIONS == OPERATIONS
