import pytest
from lxml import etree

from xroad_vtj.errors import InvalidUpstreamResponse
from xroad_vtj.xroad import (
    ClientId,
    Headers,
    ServiceId,
    build_metaservice_request,
    build_service_list_response,
    parse_message,
    parse_service_list,
    request_hash,
    verify_response,
)

PROVIDER = ServiceId("FI-TEST", "GOV", "0245437-2", "VTJkysely", "HenkilonTunnusKysely", "v1")
CLIENT = ClientId("FI-TEST", "MUN", "0101263-6", "caseapp")
XRD = "http://x-road.eu/xsd/xroad.xsd"


@pytest.mark.parametrize("code", ["listMethods", "allowedMethods"])
def test_metaservice_request_has_an_empty_xroad_wrapper(code: str) -> None:
    headers = Headers(CLIENT, PROVIDER.with_code(code), "m-1")
    message = parse_message(build_metaservice_request(headers), "text/xml")
    assert message.headers == headers
    assert message.body is not None
    assert message.body.tag == f"{{{XRD}}}{code}"
    assert len(message.body) == 0


def test_other_service_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="listMethods"):
        build_metaservice_request(Headers(CLIENT, PROVIDER, "m-1"))


@pytest.mark.parametrize("code", ["listMethods", "allowedMethods"])
def test_service_list_round_trips_and_verifies(code: str) -> None:
    headers = Headers(CLIENT, PROVIDER.with_code(code), "m-2", user_id="ops")
    sent = build_metaservice_request(headers)
    services = [
        PROVIDER,
        PROVIDER.with_code("HenkilonTunnusKysely"),
        ServiceId("FI-TEST", "GOV", "0245437-2", None, "legacy"),
    ]
    data = build_service_list_response(headers, services, request_hash=request_hash(sent))
    body = verify_response(parse_message(data, "text/xml"), sent, headers)
    assert parse_service_list(body) == services


def test_empty_service_list() -> None:
    headers = Headers(CLIENT, PROVIDER.with_code("allowedMethods"), "m-3")
    data = build_service_list_response(headers, [], request_hash=None)
    body = parse_message(data, None).body
    assert body is not None
    assert parse_service_list(body) == []


def test_service_list_from_another_wrapper_is_refused() -> None:
    with pytest.raises(InvalidUpstreamResponse, match="wrapper"):
        parse_service_list(etree.Element(f"{{{XRD}}}getWsdlResponse"))


def test_malformed_service_in_list_is_refused() -> None:
    body = etree.fromstring(
        f'<xrd:listMethodsResponse xmlns:xrd="{XRD}" xmlns:id="http://x-road.eu/xsd/identifiers">'
        '<xrd:service id:objectType="SERVICE"><id:xRoadInstance>FI</id:xRoadInstance>'
        "<id:memberClass>GOV</id:memberClass><id:memberCode>1 2</id:memberCode>"
        "<id:serviceCode>x</id:serviceCode></xrd:service></xrd:listMethodsResponse>"
    )
    with pytest.raises(InvalidUpstreamResponse, match="memberCode"):
        parse_service_list(body)
