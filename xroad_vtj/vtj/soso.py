"""The direct route to VTJ (no X-Road): DVV's "SoSo" web service flavour, sans-I/O.

Organisations outside public administration may call VTJ over HTTPS with a server certificate. That service
(``SoSo.wsdl``, namespace ``http://tempuri.org/``) is SOAP 1.1 without any X-Road header; each operation is a
flat element whose direct children are the request fields, with the same names and order as the X-Road
flavour (``laji`` for the schema kind)::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
      <TeeHenkilonTunnusKysely xmlns="http://tempuri.org/"><SoSoNimi/>...<Henkilotunnus/></TeeHenkilonTunnusKysely>
    </soap:Body></soap:Envelope>

sent with ``SOAPAction: "http://tempuri.org/<element>"``. The answer ``<element>Response/<element>Result`` holds
the VTJ answer document, as child elements or as escaped text (mixed content); either way it is handed on in
the X-Road shape (``<operation>Response/response/<document>``), so that the readers of the X-Road route read
it unchanged. There is no requestHash here: what protects the exchange is TLS with the organisation's client
certificate and a verified server name, and the audit keeps the SHA-512 of the bytes sent.

Parsing reuses the X-Road message parser's hardened XML reading (no DTD, no entities, bounded depth).
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from xroad_vtj.errors import InvalidUpstreamResponse
from xroad_vtj.vtj.generic import local_name
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
)
from xroad_vtj.vtj.request import VTJ_NS
from xroad_vtj.xroad.message import _fault, _parse_xml, _raise_fault, _xml_bytes
from xroad_vtj.xroad.namespaces import BODY, ENVELOPE, FAULT, SOAP_ENV

__all__ = [
    "DIRECT_ELEMENTS",
    "TEMPURI",
    "build_soso_request",
    "build_soso_schema_request",
    "parse_soso_response",
    "soap_action",
]

TEMPURI = "http://tempuri.org/"

# X-Road operation name -> the direct service's element (the names differ for buildings and properties).
DIRECT_ELEMENTS: dict[str, str] = {
    PERSON_QUERY: "TeeHenkilonTunnusKysely",
    PERSON_SEARCH: "TeeHenkilonTunnistusKysely",
    BUILDING_QUERY: "TeeRakennusTunnusKysely",
    BUILDING_SEARCH: "TeeRakennuksenTunnistusKysely",
    PROPERTY_QUERY: "TeeKiinteistoTunnusKysely",
    PROPERTY_SEARCH: "TeeKiinteistonTunnistusKysely",
    SCHEMA_QUERY: "HaeTuotteenSkeema",
}
OPERATION_OF_ELEMENT = {element: operation for operation, element in DIRECT_ELEMENTS.items()}

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_OPEN = f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'.encode()
_CLOSE = b"</soap:Body></soap:Envelope>"


def soap_action(operation: str) -> str:
    """The SOAPAction header value, quoted as SOAP 1.1 writes it."""
    return f'"{TEMPURI}{DIRECT_ELEMENTS[operation]}"'


def _envelope(body: etree._Element) -> bytes:
    return b"".join(
        (_DECLARATION, _OPEN, etree.tostring(body, encoding="UTF-8", xml_declaration=False), _CLOSE)
    )


def build_soso_request(
    operation: str,
    *,
    product: str,
    username: str,
    password: str,
    end_user: str,
    fields: Sequence[tuple[str, str]],
) -> bytes:
    """The request bytes of a query operation: send exactly these and audit their SHA-512."""
    body = build_operation_body(
        operation,
        product=product,
        username=username,
        password=password,
        end_user=end_user,
        fields=fields,
        namespace=TEMPURI,
        wrap_request=False,
        element_name=DIRECT_ELEMENTS[operation],
    )
    return _envelope(body)


def build_soso_schema_request(product: str, kind: int) -> bytes:
    body = build_schema_body(
        product, kind, namespace=TEMPURI, wrap_request=False, element_name=SCHEMA_QUERY, kind_field="laji"
    )
    return _envelope(body)


def _result_documents(result: etree._Element) -> list[etree._Element]:
    elements = list(result.iterchildren(etree.Element))
    if elements:
        return elements
    text = (result.text or "").strip()
    if not text:
        return []
    if text.startswith("<?xml"):
        # The text is already decoded: a declaration naming another encoding would mislead the parser.
        text = text.split("?>", 1)[1] if "?>" in text else ""
    return [_parse_xml(text.encode("utf-8"), None)]


def parse_soso_response(
    data: bytes, content_type: str | None, operation: str, *, max_bytes: int
) -> etree._Element:
    """Read a direct-route answer; return it in the X-Road shape ``<operation>Response/response/…``.

    Raises :class:`UpstreamFault` for a SOAP fault and :class:`InvalidUpstreamResponse` when the answer is not
    a SOAP 1.1 envelope whose body holds exactly ``<element>Response`` with its ``<element>Result``.
    """
    if len(data) > max_bytes:
        raise InvalidUpstreamResponse("answer larger than allowed")
    xml, charset = _xml_bytes(data, content_type)
    root = _parse_xml(xml, charset)
    if root.tag != ENVELOPE:
        raise InvalidUpstreamResponse("the direct service's answer is not a SOAP 1.1 envelope")
    bodies = [child for child in root if child.tag == BODY]
    if len(bodies) != 1:
        raise InvalidUpstreamResponse("the direct service's answer has no single SOAP Body")
    content = list(bodies[0].iterchildren(etree.Element))
    if len(content) == 1 and content[0].tag == FAULT:
        _raise_fault(_fault(content[0]))
    element = DIRECT_ELEMENTS[operation]
    if len(content) != 1 or content[0].tag != f"{{{TEMPURI}}}{element}Response":
        raise InvalidUpstreamResponse(f"the SOAP body does not hold exactly one {element}Response")
    results = [c for c in content[0].iterchildren(etree.Element) if local_name(c.tag) == f"{element}Result"]
    if len(results) != 1:
        raise InvalidUpstreamResponse(f"the answer does not hold exactly one {element}Result")
    wrapper = etree.Element(f"{{{VTJ_NS}}}{operation}Response")
    response = etree.SubElement(wrapper, f"{{{VTJ_NS}}}response")
    for document in _result_documents(results[0]):
        response.append(document)
    return wrapper
