import uuid

import pytest
from lxml import etree

from xroad_vtj.xroad import (
    ClientId,
    Headers,
    ServiceId,
    build_fault,
    build_request,
    build_response,
    new_message_id,
    parse_message,
)

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XRD = "http://x-road.eu/xsd/xroad.xsd"
ID = "http://x-road.eu/xsd/identifiers"
VTJ = "http://xml.vrk.fi/ws/vtj/vtjkysely/1"

CLIENT = ClientId("FI-TEST", "MUN", "0101263-6", "caseapp")
SERVICE = ServiceId("FI-TEST", "GOV", "0245437-2", "VTJkysely", "HenkilonTunnusKysely", "v1")
HEADERS = Headers(CLIENT, SERVICE, "b6c9bdb6-2fbc-4d0c-ae9b-6eb8dd9c99bd", "kayttaja1", "asia 123")


def vtj_body() -> etree._Element:
    body = etree.Element(f"{{{VTJ}}}HenkilonTunnusKysely", nsmap={"ns": VTJ})
    request = etree.SubElement(body, "request")
    etree.SubElement(request, "SoSoNimi").text = "PERUSJHHS3"
    etree.SubElement(request, "Henkilotunnus").text = "010280-952L"
    return body


def header_of(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    header = root.find(f"{{{SOAP}}}Header")
    assert header is not None
    return header


def local_names(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def test_request_is_exactly_these_bytes() -> None:
    expected = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"'
        b' xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers">'
        b"<SOAP-ENV:Header>"
        b'<xrd:client id:objectType="SUBSYSTEM"><id:xRoadInstance>FI-TEST</id:xRoadInstance>'
        b"<id:memberClass>MUN</id:memberClass><id:memberCode>0101263-6</id:memberCode>"
        b"<id:subsystemCode>caseapp</id:subsystemCode></xrd:client>"
        b'<xrd:service id:objectType="SERVICE"><id:xRoadInstance>FI-TEST</id:xRoadInstance>'
        b"<id:memberClass>GOV</id:memberClass><id:memberCode>0245437-2</id:memberCode>"
        b"<id:subsystemCode>VTJkysely</id:subsystemCode><id:serviceCode>HenkilonTunnusKysely</id:serviceCode>"
        b"<id:serviceVersion>v1</id:serviceVersion></xrd:service>"
        b"<xrd:id>b6c9bdb6-2fbc-4d0c-ae9b-6eb8dd9c99bd</xrd:id><xrd:userId>kayttaja1</xrd:userId>"
        b"<xrd:issue>asia 123</xrd:issue><xrd:protocolVersion>4.0</xrd:protocolVersion>"
        b"</SOAP-ENV:Header><SOAP-ENV:Body>"
        b'<ns:HenkilonTunnusKysely xmlns:ns="http://xml.vrk.fi/ws/vtj/vtjkysely/1"><request>'
        b"<SoSoNimi>PERUSJHHS3</SoSoNimi><Henkilotunnus>010280-952L</Henkilotunnus></request>"
        b"</ns:HenkilonTunnusKysely></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
    assert build_request(HEADERS, vtj_body()) == expected


def test_header_fields_come_in_schema_order() -> None:
    header = header_of(build_request(HEADERS, vtj_body()))
    assert local_names(header) == ["client", "service", "id", "userId", "issue", "protocolVersion"]
    assert all(etree.QName(child).namespace == XRD for child in header)


def test_identifier_children_come_in_schema_order_in_the_identifiers_namespace() -> None:
    header = header_of(build_request(HEADERS, vtj_body()))
    client, service = header[0], header[1]
    assert local_names(client) == ["xRoadInstance", "memberClass", "memberCode", "subsystemCode"]
    assert local_names(service) == [
        "xRoadInstance",
        "memberClass",
        "memberCode",
        "subsystemCode",
        "serviceCode",
        "serviceVersion",
    ]
    assert all(etree.QName(child).namespace == ID for child in [*client, *service])


def test_object_type_attribute_is_namespaced() -> None:
    header = header_of(build_request(HEADERS, vtj_body()))
    client, service = header[0], header[1]
    assert client.get(f"{{{ID}}}objectType") == "SUBSYSTEM"
    assert service.get(f"{{{ID}}}objectType") == "SERVICE"
    assert client.get("objectType") is None
    assert service.get("objectType") is None


def test_member_client_and_optional_fields_left_out() -> None:
    member = ClientId("FI-TEST", "MUN", "0101263-6")
    headers = Headers(member, SERVICE.with_code("HenkilonTunnusKysely"), "x1")
    header = header_of(build_request(headers, vtj_body()))
    assert local_names(header) == ["client", "service", "id", "protocolVersion"]
    assert header[0].get(f"{{{ID}}}objectType") == "MEMBER"
    assert local_names(header[0]) == ["xRoadInstance", "memberClass", "memberCode"]
    assert "serviceVersion" not in local_names(header[1])


def test_body_wrapper_must_be_named_after_the_service_code() -> None:
    wrong = etree.Element(f"{{{VTJ}}}HenkilonTunnusKyselyRequest")
    with pytest.raises(ValueError, match="service code"):
        build_request(HEADERS, wrong)


def test_body_is_not_changed_and_can_be_reused() -> None:
    body = vtj_body()
    before = etree.tostring(body)
    first = build_request(HEADERS, body)
    second = build_request(HEADERS, body)
    assert first == second
    assert etree.tostring(body) == before
    assert body.getparent() is None


def test_body_tail_text_is_not_sent() -> None:
    holder = etree.Element("holder")
    body = etree.SubElement(holder, f"{{{VTJ}}}HenkilonTunnusKysely")
    body.tail = "not part of the body"
    assert b"not part of the body" not in build_request(HEADERS, body)


def test_header_text_is_escaped_and_reads_back_exactly() -> None:
    awkward = "<a & b> \"'\r\n  ä"
    headers = Headers(CLIENT, SERVICE, "id-1", user_id=awkward, issue=awkward)
    message = parse_message(build_request(headers, vtj_body()), "text/xml; charset=UTF-8")
    assert message.headers == headers


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\ufffe"])
def test_header_text_xml_cannot_carry_is_a_programming_error(bad: str) -> None:
    with pytest.raises(ValueError, match="userId"):
        build_request(Headers(CLIENT, SERVICE, "id-1", user_id=f"a{bad}b"), vtj_body())


def test_empty_message_id_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="id"):
        build_request(Headers(CLIENT, SERVICE, ""), vtj_body())


def test_built_request_parses_back_to_the_same_headers_and_body() -> None:
    message = parse_message(build_request(HEADERS, vtj_body()), "text/xml")
    assert message.headers == HEADERS
    assert message.request_hash is None
    assert message.body is not None
    assert message.body.tag == f"{{{VTJ}}}HenkilonTunnusKysely"


def test_response_echoes_headers_and_puts_request_hash_right_after_id() -> None:
    body = etree.Element(f"{{{VTJ}}}HenkilonTunnusKyselyResponse")
    data = build_response(HEADERS, body, request_hash="aGFzaA==")
    header = header_of(data)
    assert local_names(header) == [
        "client",
        "service",
        "id",
        "requestHash",
        "userId",
        "issue",
        "protocolVersion",
    ]
    assert header[3].get("algorithmId") == "http://www.w3.org/2001/04/xmlenc#sha512"
    message = parse_message(data, "text/xml")
    assert message.headers == HEADERS
    assert message.request_hash == "aGFzaA=="


def test_response_without_request_hash_has_no_such_field() -> None:
    body = etree.Element(f"{{{VTJ}}}HenkilonTunnusKyselyResponse")
    assert "requestHash" not in local_names(header_of(build_response(HEADERS, body, request_hash=None)))


def test_fault_is_shaped_like_the_security_servers() -> None:
    data = build_fault("Server.ClientProxy.NetworkError", "Connection refused", "b1e4-uuid")
    root = etree.fromstring(data)
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None
    assert local_names(fault) == ["faultcode", "faultstring", "detail"]
    assert fault.findtext("detail/faultDetail") == "b1e4-uuid"
    assert root.find(f"{{{SOAP}}}Header") is None


def test_fault_without_detail_has_no_detail_element() -> None:
    root = etree.fromstring(build_fault("Client.InvalidXml", "bad"))
    assert root.find(f".//{{{SOAP}}}Fault/detail") is None


def test_new_message_ids_are_fresh_uuid4s() -> None:
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(value).version == 4 for value in ids)
