"""Building X-Road SOAP 4.0 envelopes as bytes.

The bytes returned here are the bytes that go on the wire *and* the bytes whose SHA-512 the provider's
security server echoes as ``requestHash``: they are made once and never re-serialised. The envelope is
assembled from text (header values are either PR-MESS identifiers, which need no escaping, or escaped
here) around the body serialised by lxml, which is several times faster than building and serialising a
tree and leaves the caller's body element untouched.

Header children are emitted in schema order (XRoadClientIdentifierType, XRoadServiceIdentifierType, then
``id, userId, issue, protocolVersion``); ``requestHash`` (responses only) follows ``id`` as the provider's
security server puts it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from lxml import etree

from xroad_vtj.xroad.identifiers import ClientId, ServiceId
from xroad_vtj.xroad.namespaces import IDENTIFIERS, SHA512_URI, SOAP_ENV, XROAD

__all__ = ["PROTOCOL_VERSION", "Headers", "build_fault", "build_request", "build_response", "new_message_id"]

PROTOCOL_VERSION = "4.0"


@dataclass(frozen=True, slots=True)
class Headers:
    """The X-Road header fields of one message (``representedParty`` is not used by this service)."""

    client: ClientId
    service: ServiceId
    id: str
    user_id: str | None = None
    issue: str | None = None
    protocol_version: str = PROTOCOL_VERSION


def new_message_id() -> str:
    """A fresh message id (a random UUID, as PR-MESS recommends)."""
    return str(uuid.uuid4())


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_ENVELOPE_OPEN = (
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}" xmlns:xrd="{XROAD}" xmlns:id="{IDENTIFIERS}">'
    "<SOAP-ENV:Header>"
)
_BODY_OPEN = "</SOAP-ENV:Header><SOAP-ENV:Body>"
_ENVELOPE_CLOSE = b"</SOAP-ENV:Body></SOAP-ENV:Envelope>"

# Characters XML 1.0 cannot carry at all; a header value with one is a programming error.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _text(field: str, value: str) -> str:
    if _NOT_XML.search(value) is not None:
        raise ValueError(f"header field {field} contains a character XML cannot carry")
    return value.translate(_ESCAPES)


def _client_xml(client: ClientId) -> str:
    subsystem = "" if client.subsystem is None else f"<id:subsystemCode>{client.subsystem}</id:subsystemCode>"
    return (
        f'<xrd:client id:objectType="{client.object_type}">'
        f"<id:xRoadInstance>{client.instance}</id:xRoadInstance>"
        f"<id:memberClass>{client.member_class}</id:memberClass>"
        f"<id:memberCode>{client.member_code}</id:memberCode>"
        f"{subsystem}</xrd:client>"
    )


def service_xml(service: ServiceId, tag: str = "xrd:service") -> str:
    """One ``XRoadServiceIdentifierType`` element (also the items of a metaservice list)."""
    subsystem = (
        "" if service.subsystem is None else f"<id:subsystemCode>{service.subsystem}</id:subsystemCode>"
    )
    version = (
        ""
        if service.service_version is None
        else f"<id:serviceVersion>{service.service_version}</id:serviceVersion>"
    )
    return (
        f'<{tag} id:objectType="SERVICE">'
        f"<id:xRoadInstance>{service.instance}</id:xRoadInstance>"
        f"<id:memberClass>{service.member_class}</id:memberClass>"
        f"<id:memberCode>{service.member_code}</id:memberCode>"
        f"{subsystem}<id:serviceCode>{service.service_code}</id:serviceCode>{version}</{tag}>"
    )


def envelope_bytes(headers: Headers, body_xml: bytes, request_hash: str | None = None) -> bytes:
    """The whole message around an already serialised body (shared by requests, responses, metaservices)."""
    parts = [_ENVELOPE_OPEN, _client_xml(headers.client), service_xml(headers.service)]
    parts.append(f"<xrd:id>{_text('id', headers.id)}</xrd:id>")
    if request_hash is not None:
        value = _text("requestHash", request_hash)
        parts.append(f'<xrd:requestHash algorithmId="{SHA512_URI}">{value}</xrd:requestHash>')
    if headers.user_id is not None:
        parts.append(f"<xrd:userId>{_text('userId', headers.user_id)}</xrd:userId>")
    if headers.issue is not None:
        parts.append(f"<xrd:issue>{_text('issue', headers.issue)}</xrd:issue>")
    parts.append(
        f"<xrd:protocolVersion>{_text('protocolVersion', headers.protocol_version)}</xrd:protocolVersion>"
    )
    parts.append(_BODY_OPEN)
    return b"".join((_DECLARATION, "".join(parts).encode(), body_xml, _ENVELOPE_CLOSE))


def _body_xml(body: etree._Element) -> bytes:
    # with_tail=False: text after the caller's element is not part of it.
    return etree.tostring(body, encoding="UTF-8", xml_declaration=False, with_tail=False)


def build_request(headers: Headers, body: etree._Element) -> bytes:
    """The request as UTF-8 bytes: send exactly these and keep them for ``verify_response``.

    ``body`` is the document/literal wrapper element; its local name must be the service code (the security
    server refuses anything else with ``InconsistentHeaders``), which is checked here as a programming error.
    ``body`` is only read, so one element may be reused for many requests. Build it as a root element: a
    body taken out of another document carries that document's in-scope namespace declarations along.
    """
    if etree.QName(body).localname != headers.service.service_code:
        raise ValueError("the body wrapper element's local name must equal the service code")
    if not headers.id:
        raise ValueError("a request needs a non-empty message id")
    return envelope_bytes(headers, _body_xml(body))


def build_response(request_headers: Headers, body: etree._Element, *, request_hash: str | None) -> bytes:
    """A service response as the provider's security server delivers it (for the simulator).

    Echoes the request headers in order and adds ``requestHash`` after ``id`` when given. The wrapper name
    is not checked, so a simulator can also produce inconsistent answers on purpose.
    """
    return envelope_bytes(request_headers, _body_xml(body), request_hash)


def build_fault(faultcode: str, faultstring: str, fault_detail: str | None = None) -> bytes:
    """A SOAP 1.1 fault shaped like the security server's own (for the simulator)."""
    detail = (
        ""
        if fault_detail is None
        else f'<detail><faultDetail xmlns="">{_text("faultDetail", fault_detail)}</faultDetail></detail>'
    )
    text = (
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body><SOAP-ENV:Fault>'
        f"<faultcode>{_text('faultcode', faultcode)}</faultcode>"
        f"<faultstring>{_text('faultstring', faultstring)}</faultstring>{detail}"
        "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
    return _DECLARATION + text.encode()
