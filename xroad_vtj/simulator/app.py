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
from xroad_vtj.simulator.persons import PERSONS, PRODUCTS, not_found_body, person_body
from xroad_vtj.vtj import is_valid_hetu
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


def _vtj_request_fields(body: etree._Element) -> dict[str, str]:
    values: dict[str, str] = {}
    for element in body.iter():
        if isinstance(element.tag, str):
            name = etree.QName(element).localname
            if name in ("SoSoNimi", "Kayttajatunnus", "Salasana", "Loppukayttaja", "Henkilotunnus"):
                values[name] = (element.text or "").strip()
    return values


def vtj_answer(state: SimulatorState, body: etree._Element) -> etree._Element:
    request = _vtj_request_fields(body)
    product = request.get("SoSoNimi", "")
    canonical = next((p for p in PRODUCTS if p.casefold() == product.casefold()), None)
    if state.knobs.mode == "vtj_return_code":
        return person_body(request, None, canonical or product, state.knobs.return_code)
    if state.knobs.mode == "other_person":
        return person_body(request, PERSONS["010594Y9032"], canonical or product)
    if request.get("Kayttajatunnus") != state.username:
        return person_body(request, None, canonical or product, "0004")
    if request.get("Salasana") != state.password:
        return person_body(request, None, canonical or product, "0003")
    if canonical is None:
        return person_body(request, None, product, "-1901")
    if not request.get("Loppukayttaja"):
        return person_body(request, None, canonical, "-1904")
    hetu = request.get("Henkilotunnus", "")
    person = PERSONS.get(hetu)
    if person is None or not is_valid_hetu(hetu):
        return not_found_body(request)
    return person_body(request, person, canonical)


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
    mode = knobs.mode
    if knobs.count is not None:
        if knobs.count <= 0:
            mode = "normal"
        else:
            knobs.count -= 1
    if knobs.latency_seconds:
        await asyncio.sleep(knobs.latency_seconds)
    the_hash = request_hash(data)
    if mode == "fault":
        return _xml_response(fault_bytes(state, knobs.fault))
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
    meta = _metaservice_answer(state, headers, the_hash)
    if meta is not None:
        return _xml_response(meta)
    if headers.service != state.service:
        return _xml_response(fault_bytes(state, "unknown_service"))
    answer_headers = headers
    if mode == "wrong_message_id":
        answer_headers = replace(headers, id=headers.id + "-other")
    if mode == "wrong_request_hash":
        the_hash = request_hash(data + b" ")
    answer = build_response(
        answer_headers,
        vtj_answer(state, body),
        request_hash=None if mode == "missing_request_hash" else the_hash,
    )
    if mode in ("billion_laughs", "external_entity", "deep_nesting"):
        answer = _hostile(answer, mode, knobs)
    return _xml_response(answer)


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
) -> web.Application:
    """``allowed_services`` is what ``allowedMethods`` reports (default: the VTJ service)."""
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
    )
    app = web.Application(client_max_size=20 * 1024 * 1024)
    app[STATE] = state
    app.router.add_route("*", "/__simulator__/knobs", knobs_handler)
    app.router.add_get("/__simulator__/received", received_handler)
    app.router.add_post("/__simulator__/reset", reset_handler)
    app.router.add_route("*", "/", handle)
    return app


def simulator_ssl_context(cert_file: str, key_file: str, client_ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        # Like the security server: the TLS handshake succeeds, a missing certificate becomes a SOAP fault.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
