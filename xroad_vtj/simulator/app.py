"""A security server + VTJ simulator that behaves like the real ones as far as a client can see.

It checks requests the way the security server does (method, content type, SOAP, header fields, protocol
version, body wrapper = serviceCode, known client and service, client certificate), answers SOAP faults with
HTTP 200 in either the pre-7.8 (``Server.ClientProxy.NetworkError``) or the 7.8 spelling
(``server.clientproxy.network_error``), hashes the exact received bytes into ``requestHash``, echoes the headers,
and answers VTJ ``HenkilonTunnusKysely`` from synthetic test persons. Knobs (JSON at ``/__simulator__/knobs``)
add latency and inject faults; ``/__simulator__/received`` lists every message id received.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from aiohttp import web
from lxml import etree

from xroad_vtj.errors import InvalidIdentifier, InvalidUpstreamResponse
from xroad_vtj.simulator.objects import building_answer, property_answer, schema_answer, search_answer
from xroad_vtj.simulator.persons import ECHOED, PERSONS, PRODUCTS, not_found_body, person_body, person_by_satu
from xroad_vtj.vtj import is_valid_hetu
from xroad_vtj.vtj.operations import (
    BUILDING_QUERY,
    BUILDING_SEARCH,
    OPERATIONS,
    PERSON_QUERY,
    PERSON_SEARCH,
    PROPERTY_QUERY,
    PROPERTY_SEARCH,
    SCHEMA_QUERY,
)
from xroad_vtj.vtj.soso import OPERATION_OF_ELEMENT, TEMPURI
from xroad_vtj.xroad import (
    ClientId,
    Headers,
    ServiceId,
    build_fault,
    build_response,
    build_service_list_response,
    parse_message,
    request_hash,
)
from xroad_vtj.xroad.namespaces import SOAP_ENV

# Fault names in both spellings: (pre-7.8, 7.8).
FAULTS: dict[str, tuple[str, str, str]] = {
    "network_error": (
        "Server.ClientProxy.NetworkError",
        "server.clientproxy.network_error",
        "Could not connect to any target host",
    ),
    "ssl_authentication_failed": (
        "Server.ClientProxy.SslAuthenticationFailed",
        "server.clientproxy.ssl_authentication_failed",
        "Client (SUBSYSTEM) specifies HTTPS but did not supply TLS certificate",
    ),
    "unknown_member": (
        "Server.ClientProxy.UnknownMember",
        "server.clientproxy.unknown_member",
        "Client is not registered on this security server",
    ),
    "io_error": ("Server.ServerProxy.IOError", "server.serverproxy.io_error", "Read timed out"),
    "unknown_service": (
        "Server.ServerProxy.UnknownService",
        "server.serverproxy.unknown_service",
        "Unknown service",
    ),
    "access_denied": (
        "Server.ServerProxy.AccessDenied",
        "server.serverproxy.access_denied",
        "Request is not allowed",
    ),
    "service_failed": (
        "Server.ServerProxy.ServiceFailed.InconsistentResponse",
        "server.serverproxy.service_failed.inconsistent_response",
        "Response from server proxy is not consistent with request",
    ),
    "invalid_xml": ("Client.InvalidXml", "client.invalid_xml", "Malformed SOAP message"),
    "invalid_soap": ("Client.InvalidSoap", "client.invalid_soap", "Malformed SOAP message"),
    "missing_header_field": (
        "Client.MissingHeaderField",
        "client.missing_header_field",
        "Required field is missing from the header",
    ),
    "invalid_protocol_version": (
        "Client.InvalidProtocolVersion",
        "client.invalid_protocol_version",
        "Unsupported protocol version",
    ),
    "inconsistent_headers": (
        "Client.InconsistentHeaders",
        "client.inconsistent_headers",
        "Service code does not match the body wrapper element",
    ),
    "invalid_http_method": (
        "Client.InvalidHttpMethod",
        "client.invalid_http_method",
        "Must use POST request",
    ),
    "invalid_content_type": (
        "Client.InvalidContentType",
        "client.invalid_content_type",
        "Invalid content type",
    ),
    "provider_custom": ("Server.VTJ.InternalError", "Server.VTJ.InternalError", "Provider service failed"),
}

MODES = (
    "normal",
    "fault",
    "reset_before_response",
    "reset_mid_response",
    "stall",
    "malformed_xml",
    "non_soap_500",
    "non_soap_502",
    "wrong_request_hash",
    "missing_request_hash",
    "wrong_message_id",
    "oversized",
    "vtj_return_code",
    "other_person",
    # hostile answers: a verifiable answer made dangerous for a careless XML parser or reader
    "billion_laughs",
    "external_entity",
    "deep_nesting",
    "huge_body",
)


@dataclass
class Knobs:
    """Behaviour of the next requests. ``count`` = how many requests the mode applies to (None: all)."""

    latency_seconds: float = 0.0
    fault_style: str = "modern"  # modern (7.8) | legacy (pre-7.8)
    mode: str = "normal"
    fault: str = "network_error"
    return_code: str = "0003"
    oversized_bytes: int = 5 * 1024 * 1024
    count: int | None = None
    huge_bytes: int = 100 * 1024 * 1024  # huge_body: streamed in chunks, never held in memory
    huge_declare_length: bool = False  # huge_body: send Content-Length (else chunked)
    entity_url: str = "file:///etc/passwd"  # external_entity: what the entities point at
    nesting_depth: int = 100_000  # deep_nesting

    def update(self, changes: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in names:
                raise ValueError(f"unknown knob {key}")
            setattr(self, key, value)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        if self.fault_style not in ("modern", "legacy"):
            raise ValueError("fault_style must be modern or legacy")


@dataclass
class SimulatorState:
    service: ServiceId
    username: str
    password: str
    allowed_clients: frozenset[str] | None = None
    allowed_services: tuple[ServiceId, ...] = ()
    client_cert_fingerprints: frozenset[bytes] | None = None
    knobs: Knobs = field(default_factory=Knobs)
    received: list[str] = field(default_factory=list)
    request_count: int = 0
    route: str = "xroad"  # xroad: a security server; direct: DVV's SoSo service (no X-Road header)
    # What the direct route received, by operation element (no X-Road id there to list).
    received_operations: list[str] = field(default_factory=list)

    @property
    def services(self) -> frozenset[ServiceId]:
        """The VTJ services this provider offers: vtj.service and each operation under the same provider."""
        version = self.service.service_version
        return frozenset({self.service, *(self.service.with_code(op, version) for op in OPERATIONS)})


STATE: web.AppKey[SimulatorState] = web.AppKey("simulator", SimulatorState)


class SimFault(Exception):
    def __init__(self, name: str, detail: str | None = None) -> None:
        self.name = name
        self.detail = detail
        super().__init__(name)


def fault_bytes(state: SimulatorState, name: str, detail: str | None = None) -> bytes:
    legacy, modern, text = FAULTS[name]
    code = legacy if state.knobs.fault_style == "legacy" else modern
    return build_fault(code, detail or text, str(uuid.uuid4()))


def _xml_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, headers={"Content-Type": "text/xml; charset=UTF-8"})


_REQUEST_FIELDS = frozenset({*ECHOED, "Laji", "laji"})


def _vtj_request_fields(body: etree._Element) -> dict[str, str]:
    values: dict[str, str] = {}
    for element in body.iter():
        if isinstance(element.tag, str):
            name = etree.QName(element).localname
            if name in _REQUEST_FIELDS:
                values[name] = (element.text or "").strip()
    return values


def vtj_answer(state: SimulatorState, body: etree._Element, mode: str | None = None) -> etree._Element:
    """VTJ's answer (the X-Road body wrapper) to a request body of any operation; ``mode`` = the knob in force."""
    operation = etree.QName(body).localname
    return operation_answer(
        state, operation, _vtj_request_fields(body), state.knobs.mode if mode is None else mode
    )


def operation_answer(
    state: SimulatorState, operation: str, request: dict[str, str], mode: str
) -> etree._Element:
    product = request.get("SoSoNimi", "")
    canonical = next((p for p in PRODUCTS if p.casefold() == product.casefold()), None)
    if operation == SCHEMA_QUERY:
        return schema_answer(product, request.get("Laji") or request.get("laji") or "", canonical is not None)
    code: str | None = None
    if mode == "vtj_return_code":
        code = state.knobs.return_code
    elif request.get("Kayttajatunnus") != state.username:
        code = "0004"
    elif request.get("Salasana") != state.password:
        code = "0003"
    elif canonical is None:
        code = "-1901"
    elif not request.get("Loppukayttaja"):
        code = "-1904"
    answered = canonical or product
    if operation == PERSON_QUERY:
        if code is not None:
            return person_body(request, None, answered, code)
        if mode == "other_person":
            return person_body(request, PERSONS["010594Y9032"], answered)
        if "SahkoinenAsiointitunnus" in request:
            person = person_by_satu(request["SahkoinenAsiointitunnus"])
        else:
            hetu = request.get("Henkilotunnus", "")
            person = PERSONS.get(hetu) if is_valid_hetu(hetu) else None
        return not_found_body(request) if person is None else person_body(request, person, answered)
    if operation == BUILDING_QUERY:
        return building_answer(request, answered, code)
    if operation == PROPERTY_QUERY:
        return property_answer(request, answered, code)
    if operation in (PERSON_SEARCH, BUILDING_SEARCH, PROPERTY_SEARCH):
        return search_answer(operation, request, answered, code)
    raise SimFault("unknown_service")


def _check_client_certificate(request: web.Request, state: SimulatorState) -> None:
    if state.client_cert_fingerprints is None:
        return
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der or hashlib.sha256(der).digest() not in state.client_cert_fingerprints:
        raise SimFault("ssl_authentication_failed")


def check_request(
    state: SimulatorState, data: bytes, content_type: str | None
) -> tuple[Headers, etree._Element]:
    """What the security server checks before it forwards a request."""
    if content_type is None or not content_type.lower().startswith(("text/xml", "multipart/related")):
        raise SimFault("invalid_content_type")
    try:
        message = parse_message(data, content_type, max_bytes=10 * 1024 * 1024)
    except InvalidIdentifier:
        raise SimFault("invalid_xml", "Malformed identifier") from None
    except InvalidUpstreamResponse as exc:
        name = "missing_header_field" if "missing" in exc.detail.lower() else "invalid_soap"
        raise SimFault(name, exc.detail) from None
    headers = message.headers
    if headers is None or message.body is None:
        raise SimFault("invalid_soap", "A request must not be a fault")
    if not headers.protocol_version.startswith("4."):
        raise SimFault("invalid_protocol_version")
    if etree.QName(message.body).localname != headers.service.service_code:
        raise SimFault("inconsistent_headers")
    if state.allowed_clients is not None and str(headers.client) not in state.allowed_clients:
        raise SimFault("unknown_member")
    return headers, message.body


def _metaservice_answer(state: SimulatorState, headers: Headers, the_hash: str) -> bytes | None:
    code = headers.service.service_code
    if code not in ("listMethods", "allowedMethods"):
        return None
    services = list(state.allowed_services) if code == "allowedMethods" else [state.service]
    return build_service_list_response(headers, services, request_hash=the_hash)


def _current_mode(knobs: Knobs) -> str:
    """The mode for this request; ``count`` limits how many requests a mode applies to (every mode)."""
    if knobs.count is None:
        return knobs.mode
    if knobs.count <= 0:
        return "normal"
    knobs.count -= 1
    return knobs.mode


async def _transport_mode(
    request: web.Request, state: SimulatorState, mode: str
) -> web.StreamResponse | None:
    """The answer of a mode that breaks the exchange itself (both routes); None for the others."""
    knobs = state.knobs
    if mode == "fault":
        return _xml_response(fault_bytes(state, knobs.fault), 500 if state.route == "direct" else 200)
    if mode == "reset_before_response":
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
    if mode in ("reset_mid_response", "stall"):
        response = web.StreamResponse(headers={"Content-Type": "text/xml; charset=UTF-8"})
        response.content_length = 4096
        await response.prepare(request)
        await response.write(b"<?xml version='1.0' encoding='UTF-8'?><SOAP-ENV:Envelope")
        if mode == "stall":
            await asyncio.sleep(3600)
        if request.transport is not None:
            request.transport.abort()
        return response
    if mode == "malformed_xml":
        return _xml_response(b"<?xml version='1.0'?><SOAP-ENV:Envelope><unclosed>")
    if mode in ("non_soap_500", "non_soap_502"):
        return web.Response(
            status=int(mode[-3:]), text="<html><body>Bad gateway</body></html>", content_type="text/html"
        )
    if mode == "oversized":
        return _xml_response(b"<?xml version='1.0'?><a>" + b"x" * knobs.oversized_bytes + b"</a>")
    if mode == "huge_body":
        return await _huge_body(request, knobs)
    return None


_SOAP_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def _direct_fault(code: str, text: str) -> web.Response:
    # SOAP 1.1 services answer faults with HTTP 500.
    return _xml_response(build_fault(code, text), 500)


class DirectFault(Exception):
    """A request the direct service refuses with a SOAP fault (HTTP 500)."""


def read_direct_request(
    data: bytes, content_type: str | None, action: str | None
) -> tuple[str, str, dict[str, str]]:
    """What DVV's direct service checks: SOAP 1.1, a known operation element, SOAPAction naming it.

    Returns (operation, element, fields); raises :class:`DirectFault` with the fault text."""
    if not (content_type or "").lower().startswith("text/xml"):
        raise DirectFault("Invalid content type")
    try:
        root = etree.fromstring(data, _SOAP_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        raise DirectFault("Malformed SOAP message") from None
    body = root.find(f"{{{SOAP_ENV}}}Body") if root.tag == f"{{{SOAP_ENV}}}Envelope" else None
    operation_element = body[0] if body is not None and len(body) == 1 else None
    if operation_element is None or etree.QName(operation_element).namespace != TEMPURI:
        raise DirectFault("Malformed SOAP message")
    element = etree.QName(operation_element).localname
    operation = OPERATION_OF_ELEMENT.get(element)
    if operation is None:
        raise DirectFault("Unknown operation")
    if action != f'"{TEMPURI}{element}"':
        raise DirectFault("SOAPAction does not match the operation")
    fields = {
        etree.QName(c).localname: (c.text or "").strip() for c in operation_element if isinstance(c.tag, str)
    }
    return operation, element, fields


def direct_answer(
    state: SimulatorState, operation: str, element: str, fields: dict[str, str], mode: str
) -> bytes:
    """The direct service's answer bytes: ``<element>Response/<element>Result`` holding VTJ's document."""
    try:
        wrapper = operation_answer(state, operation, fields, mode)
    except SimFault:
        raise DirectFault("Unknown operation") from None
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    soap_body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    answer = etree.SubElement(soap_body, f"{{{TEMPURI}}}{element}Response", nsmap={None: TEMPURI})  # type: ignore[dict-item]
    result = etree.SubElement(answer, f"{{{TEMPURI}}}{element}Result")
    response = next((c for c in wrapper if etree.QName(c).localname == "response"), None)
    for document in list(response) if response is not None else []:
        result.append(document)
    out = etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)
    if mode in ("billion_laughs", "external_entity", "deep_nesting"):
        out = _hostile(out, mode, state.knobs)
    return out


async def handle_direct(request: web.Request) -> web.StreamResponse:
    """DVV's direct service (SoSo flavour): SOAP 1.1, no X-Road header, flat operation elements."""
    state = request.app[STATE]
    if request.method != "POST":
        return _direct_fault("soap:Client", "Must use POST request")
    data = await request.read()
    state.request_count += 1
    if state.client_cert_fingerprints is not None:
        try:
            _check_client_certificate(request, state)
        except SimFault:
            return _direct_fault("soap:Client", "Client certificate not accepted")
    try:
        operation, element, fields = read_direct_request(
            data, request.headers.get("Content-Type"), request.headers.get("SOAPAction")
        )
    except DirectFault as fault:
        return _direct_fault("soap:Client", str(fault))
    state.received_operations.append(element)
    mode = _current_mode(state.knobs)
    if state.knobs.latency_seconds:
        await asyncio.sleep(state.knobs.latency_seconds)
    shaped = await _transport_mode(request, state, mode)
    if shaped is not None:
        return shaped
    try:
        return _xml_response(direct_answer(state, operation, element, fields, mode))
    except DirectFault as fault:
        return _direct_fault("soap:Client", str(fault))


def xroad_answer(
    state: SimulatorState, headers: Headers, body: etree._Element, data: bytes, mode: str
) -> bytes:
    """The provider's answer, as the security server delivers it, to a request that passed the checks."""
    the_hash = request_hash(data)
    meta = _metaservice_answer(state, headers, the_hash)
    if meta is not None:
        return meta
    if headers.service not in state.services:
        return fault_bytes(state, "unknown_service")
    answer_headers = headers
    if mode == "wrong_message_id":
        answer_headers = replace(headers, id=headers.id + "-other")
    if mode == "wrong_request_hash":
        the_hash = request_hash(data + b" ")
    try:
        answer_body = vtj_answer(state, body, mode)
    except SimFault as fault:
        return fault_bytes(state, fault.name, fault.detail)
    answer = build_response(
        answer_headers,
        answer_body,
        request_hash=None if mode == "missing_request_hash" else the_hash,
    )
    if mode in ("billion_laughs", "external_entity", "deep_nesting"):
        answer = _hostile(answer, mode, state.knobs)
    return answer


async def handle(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    knobs = state.knobs
    if request.method != "POST":
        return _xml_response(fault_bytes(state, "invalid_http_method"))
    data = await request.read()
    state.request_count += 1
    try:
        _check_client_certificate(request, state)
        headers, body = check_request(state, data, request.headers.get("Content-Type"))
    except SimFault as fault:
        return _xml_response(fault_bytes(state, fault.name, fault.detail))
    state.received.append(headers.id)
    mode = _current_mode(knobs)
    if knobs.latency_seconds:
        await asyncio.sleep(knobs.latency_seconds)
    shaped = await _transport_mode(request, state, mode)
    if shaped is not None:
        return shaped
    return _xml_response(xroad_answer(state, headers, body, data, mode))


_LAUGHS = b"".join(
    b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i else b"lol") for i in range(10)
)


def _hostile(answer: bytes, mode: str, knobs: Knobs) -> bytes:
    """The same verifiable answer with a DTD (entity bomb, external entities) or nesting deep in a name."""
    declaration, _, rest = answer.partition(b"?>")
    if mode == "deep_nesting":
        depth = knobs.nesting_depth
        return answer.replace(b"Testinen", b"<d>" * depth + b"Testinen" + b"</d>" * depth, 1)
    if mode == "billion_laughs":
        doctype, reference = b"<!DOCTYPE Envelope [" + _LAUGHS + b"]>", b"&lol9;"
    else:
        url = knobs.entity_url.encode()
        entities = b'<!ENTITY %% remote SYSTEM "%s"> %%remote; <!ENTITY xxe SYSTEM "%s">' % (url, url)
        doctype, reference = b"<!DOCTYPE Envelope [" + entities + b"]>", b"&xxe;"
    return declaration + b"?>" + doctype + rest.replace(b"Testinen", reference, 1)


async def _huge_body(request: web.Request, knobs: Knobs) -> web.StreamResponse:
    """An endless-looking SOAP answer, streamed, so that the simulator itself stays small."""
    response = web.StreamResponse(headers={"Content-Type": "text/xml; charset=UTF-8"})
    head = (
        b"<?xml version='1.0' encoding='UTF-8'?>"
        b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><a>'
    )
    if knobs.huge_declare_length:
        response.content_length = knobs.huge_bytes
    else:
        response.enable_chunked_encoding()
    chunk = b"x" * 65536
    try:
        await response.prepare(request)
        await response.write(head)
        sent = len(head)
        while sent < knobs.huge_bytes:
            piece = chunk[: knobs.huge_bytes - sent]
            await response.write(piece)
            sent += len(piece)
        await response.write_eof()
    except ConnectionError:
        pass  # the reader gave up, as it should
    return response


async def knobs_handler(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.method == "POST":
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("knobs must be a JSON object")
            candidate = replace(state.knobs)
            candidate.update(changes)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        state.knobs = candidate
    return web.json_response({f.name: getattr(state.knobs, f.name) for f in fields(state.knobs)})


async def received_handler(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"received": state.received, "requests": state.request_count})


async def reset_handler(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.knobs = Knobs()
    state.received.clear()
    state.received_operations.clear()
    state.request_count = 0
    return web.json_response({"reset": True})


def create_simulator_app(
    *,
    service: str = "FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1",
    username: str = "demo-user",
    password: str = "demo-password",  # noqa: S107 - the simulator's published test credential
    allowed_clients: Iterable[str] | None = None,
    allowed_services: Iterable[str] | None = None,
    client_cert_fingerprints: Iterable[bytes] | None = None,
    knobs: Knobs | None = None,
    route: str = "xroad",
) -> web.Application:
    """``allowed_services`` is what ``allowedMethods`` reports (default: the VTJ service). ``route="direct"``
    serves DVV's direct (SoSo) service instead of a security server."""
    vtj_service = ServiceId.parse(service)
    state = SimulatorState(
        service=vtj_service,
        username=username,
        password=password,
        allowed_clients=frozenset(str(ClientId.parse(c)) for c in allowed_clients)
        if allowed_clients
        else None,
        allowed_services=tuple(ServiceId.parse(s) for s in allowed_services)
        if allowed_services is not None
        else (vtj_service,),
        client_cert_fingerprints=frozenset(client_cert_fingerprints) if client_cert_fingerprints else None,
        knobs=knobs or Knobs(),
        route=route,
    )
    app = web.Application(client_max_size=20 * 1024 * 1024)
    app[STATE] = state
    app.router.add_route("*", "/__simulator__/knobs", knobs_handler)
    app.router.add_get("/__simulator__/received", received_handler)
    app.router.add_post("/__simulator__/reset", reset_handler)
    app.router.add_route("*", "/", handle_direct if route == "direct" else handle)
    if route == "direct":
        # DVV's direct service lives under a path (e.g. /SoSoAdapterService): any path answers alike
        app.router.add_route("*", "/{path:.+}", handle_direct)
    return app


def simulator_ssl_context(
    cert_file: str, key_file: str, client_ca_file: str | None, *, require_client_cert: bool = False
) -> ssl.SSLContext:
    """``require_client_cert``: refuse the handshake without a certificate from ``client_ca_file`` (the direct
    service does; the security server lets the handshake pass and answers a SOAP fault)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context
