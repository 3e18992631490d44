"""The ``listMethods`` and ``allowedMethods`` metaservices: what a provider offers / lets us call.

Both are ordinary X-Road calls whose ``service`` is the provider subsystem with serviceCode ``listMethods``
or ``allowedMethods``, an empty ``xrd:`` wrapper as body, and a ``<code>Response`` wrapper holding
``xrd:service`` identifiers. Useful as a readiness or diagnostic check.
"""

from __future__ import annotations

from lxml import etree

from xroad_vtj.errors import InvalidUpstreamResponse
from xroad_vtj.xroad.envelope import Headers, envelope_bytes, service_xml
from xroad_vtj.xroad.identifiers import ServiceId
from xroad_vtj.xroad.message import parse_service_id
from xroad_vtj.xroad.namespaces import IDENTIFIERS, XROAD, clark

__all__ = [
    "METASERVICE_CODES",
    "build_metaservice_request",
    "build_service_list_response",
    "parse_service_list",
]

METASERVICE_CODES = frozenset({"listMethods", "allowedMethods"})
_SERVICE = clark(XROAD, "service")
_RESPONSES = frozenset(clark(XROAD, code + "Response") for code in METASERVICE_CODES)


def _code(headers: Headers) -> str:
    code = headers.service.service_code
    if code not in METASERVICE_CODES:
        raise ValueError("a metaservice request needs serviceCode listMethods or allowedMethods")
    return code


def build_metaservice_request(headers: Headers) -> bytes:
    """The request bytes for the metaservice named by ``headers.service.service_code``."""
    code = _code(headers)
    return envelope_bytes(headers, f'<xrd:{code} xmlns:xrd="{XROAD}"/>'.encode())


def parse_service_list(body: etree._Element) -> list[ServiceId]:
    """The services in a ``listMethodsResponse`` / ``allowedMethodsResponse`` body wrapper."""
    if body.tag not in _RESPONSES:
        raise InvalidUpstreamResponse(
            "not a metaservice response: unexpected wrapper element", problem="unexpected wrapper element"
        )
    return [parse_service_id(child) for child in body if child.tag == _SERVICE]


def build_service_list_response(
    request_headers: Headers, services: list[ServiceId], *, request_hash: str | None
) -> bytes:
    """A metaservice answer listing ``services`` (for the simulator)."""
    code = _code(request_headers)
    items = "".join(service_xml(service) for service in services)
    body = f'<xrd:{code}Response xmlns:xrd="{XROAD}" xmlns:id="{IDENTIFIERS}">{items}</xrd:{code}Response>'
    return envelope_bytes(request_headers, body.encode(), request_hash)
