"""Reading X-Road SOAP 4.0 messages from bytes and checking a response against the request that was sent.

``parse_message`` is structural: it accepts every form a security server may deliver (BOM, declared or
Content-Type charset, CDATA, comments, any prefixes or default namespaces, header fields in any order,
multipart/related and MTOM with the SOAP part first) and refuses, with ``InvalidUpstreamResponse``, what is
not a SOAP 1.1 X-Road message at all. It never resolves entities, loads a DTD or touches the network, and a
document type declaration is refused outright. ``verify_response`` then decides whether a parsed response
answers *our* request: requestHash over the exact bytes sent, the echoed headers, the wrapper name.

Error messages name the problem, never a value from the message (values may be personal data).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from lxml import etree

from xroad_vtj.errors import (
    InconsistentResponse,
    InvalidIdentifier,
    InvalidUpstreamResponse,
    RequestHashMismatch,
    UpstreamFault,
)
from xroad_vtj.xroad.envelope import Headers
from xroad_vtj.xroad.faults import FaultFamily, classify_fault, is_loggable_fault_code
from xroad_vtj.xroad.identifiers import ClientId, ServiceId
from xroad_vtj.xroad.namespaces import (
    BODY,
    ENVELOPE,
    FAULT,
    HEADER,
    IDENTIFIERS,
    OBJECT_TYPE,
    SHA512_URI,
    XROAD,
    clark,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Fault",
    "Message",
    "parse_message",
    "parse_service_id",
    "request_hash",
    "verify_response",
]

DEFAULT_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fault:
    """A SOAP fault. ``string`` and ``detail`` are upstream text: keep them out of log messages."""

    code: str
    string: str
    detail: str | None
    family: FaultFamily


@dataclass(frozen=True, slots=True)
class Message:
    """One parsed message: either headers and a body wrapper, or a fault."""

    headers: Headers | None
    request_hash: str | None
    request_hash_algorithm: str | None
    body: etree._Element | None
    fault: Fault | None


# --- requestHash --------------------------------------------------------------------------------------------

# algorithmId → hash constructor. X-Road uses SHA-512 by default; the others are what it may be set to.
_HASHES: dict[str, Callable[[bytes], Any]] = {
    SHA512_URI: hashlib.sha512,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashlib.sha384,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
}


def request_hash(sent: bytes) -> str:
    """``base64(SHA-512(sent))``, the value the provider's security server puts into ``requestHash``."""
    return base64.b64encode(hashlib.sha512(sent).digest()).decode("ascii")


# --- parsing ------------------------------------------------------------------------------------------------

# One parser for the life of the process. huge_tree=False keeps libxml2's depth (256) and text-size limits.
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_DECLARED_ENCODING = re.compile(rb"\A\s*<\?xml[^>]*?\bencoding\s*=", re.ASCII)
_PROLOG_SPACE = b" \t\r\n"
_MEDIA_PARAM = re.compile(r';\s*([A-Za-z0-9!#$&^_.+-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_SOAP_PART_TYPES = frozenset({"text/xml", "application/xop+xml", "application/xml"})
_PLAIN_TRANSFER_ENCODINGS = frozenset({"", "8bit", "7bit", "binary"})


def _invalid(problem: str) -> InvalidUpstreamResponse:
    return InvalidUpstreamResponse(f"not a valid X-Road SOAP message: {problem}", problem=problem)


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    media = value.split(";", 1)[0].strip().lower()
    params: dict[str, str] = {}
    for name, raw in _MEDIA_PARAM.findall(value):
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.lower()] = raw
    return media, params


def _soap_part(data: bytes, boundary: str) -> tuple[bytes, str | None]:
    """The first MIME part's body and its charset parameter."""
    try:
        delimiter = b"--" + boundary.encode("latin-1")
    except UnicodeEncodeError:
        # RFC 2046 boundaries are 7-bit; a header decoded by the HTTP library may hold anything.
        raise _invalid("multipart boundary is not Latin-1") from None
    if not data.startswith(delimiter):
        # A preamble before the first delimiter is legal MIME.
        start = data.find(b"\n" + delimiter)
        if start < 0:
            raise _invalid("multipart boundary not found")
        data = data[start + 1 :]
    line_end = data.find(b"\n")
    if line_end < 0 or data[len(delimiter) : line_end].strip():
        raise _invalid("multipart boundary not found")
    headers_end = re.search(rb"\r?\n\r?\n", data[line_end:])
    if headers_end is None:
        raise _invalid("multipart part has no header end")
    raw_headers = data[line_end + 1 : line_end + headers_end.start()]
    content_start = line_end + headers_end.end()
    if data.startswith(delimiter, content_start):
        raise _invalid("the SOAP part is empty")
    # The part ends at the next delimiter line: CRLF/LF, "--boundary", then "--", white space, or the end.
    end = re.compile(rb"\r?\n" + re.escape(delimiter) + rb"(?:--|[ \t]*(?:\r?\n|\Z))")
    match = end.search(data, content_start)
    if match is None:
        raise _invalid("multipart SOAP part is not terminated by the boundary")
    part_headers: dict[str, str] = {}
    # Header lines may be folded onto indented continuation lines.
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", raw_headers).decode("latin-1")
    for line in unfolded.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            part_headers[name.strip().lower()] = value.strip()
    media, params = _media_type(part_headers.get("content-type", "text/xml"))
    if media not in _SOAP_PART_TYPES:
        raise _invalid("the first multipart part is not a SOAP message")
    if part_headers.get("content-transfer-encoding", "").lower() not in _PLAIN_TRANSFER_ENCODINGS:
        raise _invalid("the SOAP part has an unsupported content transfer encoding")
    return data[content_start : match.start()], params.get("charset")


def _xml_bytes(data: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """The SOAP XML (first MIME part if multipart) and the charset the transport declares for it."""
    if content_type is not None:
        media, params = _media_type(content_type)
        if media.startswith("multipart/"):
            boundary = params.get("boundary")
            if not boundary:
                raise _invalid("multipart content type without a boundary")
            return _soap_part(data, boundary)
        return data, params.get("charset")
    if data.startswith(b"--"):
        first_line = data.split(b"\n", 1)[0].rstrip(b"\r")
        boundary = first_line[2:].decode("latin-1").strip()
        if not boundary:
            raise _invalid("multipart boundary not found")
        return _soap_part(data, boundary)
    return data, None


def _doctype_in_prolog(xml: bytes) -> bool:
    """Whether a DOCTYPE stands in the prolog (after an optional BOM, declaration, white space, comments and
    processing instructions), scanned in one forward pass: each step searches on from where the last ended, so
    the scan is linear in the size of the data whatever the prolog holds. (A regular expression with nested
    repetition here backtracked exponentially over a run of processing instructions.)"""
    at = 3 if xml.startswith(_BOMS[0]) else 0
    end = len(xml)
    while at < end:
        if xml[at] in _PROLOG_SPACE:
            at += 1
        elif xml.startswith(b"<?", at):
            close = xml.find(b"?>", at + 2)
            if close < 0:
                return False
            at = close + 2
        elif xml.startswith(b"<!--", at):
            close = xml.find(b"-->", at + 4)
            if close < 0:
                return False
            at = close + 3
        else:
            return xml.startswith(b"<!DOCTYPE", at)
    return False


def _parse_xml(xml: bytes, charset: str | None) -> etree._Element:
    if not xml.strip():
        raise _invalid("empty body")
    # The cheap substring search keeps the prolog scan off the common path.
    if b"<!DOCTYPE" in xml and _doctype_in_prolog(xml):
        raise _invalid("document type declarations are not accepted")
    if (
        charset is not None
        and charset.lower() not in _UTF8_NAMES
        and not xml.startswith(_BOMS)
        and _DECLARED_ENCODING.match(xml) is None
    ):
        # The transport names the only charset there is: transcode to UTF-8 (rare; the common case is UTF-8).
        try:
            xml = xml.decode(charset).encode("utf-8")
        except (LookupError, UnicodeError, ValueError, TypeError) as exc:
            # UnicodeError covers codecs that fail oddly (``undefined``, ``punycode``) and decoded text that
            # holds lone surrogates (which UTF-8 cannot encode).
            raise _invalid("body does not decode in the declared charset") from exc
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise _invalid("not well-formed XML") from exc
    except ValueError as exc:  # e.g. an unknown declared encoding
        raise _invalid("not parseable XML") from exc
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise _invalid("document type declarations are not accepted")
    return root


def _children(element: etree._Element) -> list[etree._Element]:
    # The parser drops comments and processing instructions, and with every DTD refused no entity reference
    # can survive parsing: only elements remain as children.
    return list(element)


def _leaf_text(element: etree._Element, field: str) -> str:
    if len(element):
        raise _invalid(f"header field {field} has child elements")
    return element.text or ""


_ID_PARTS = {
    clark(IDENTIFIERS, name): name
    for name in (
        "xRoadInstance",
        "memberClass",
        "memberCode",
        "subsystemCode",
        "serviceCode",
        "serviceVersion",
    )
}


_REQUIRED_ID_PARTS = ("xRoadInstance", "memberClass", "memberCode")


def _identifier_parts(element: etree._Element, field: str) -> tuple[str, dict[str, str]]:
    object_type = element.get(OBJECT_TYPE)
    if object_type is None:
        raise _invalid(f"header field {field} has no id:objectType attribute")
    parts: dict[str, str] = {}
    for child in element:
        name = _ID_PARTS.get(child.tag)
        if name is None:
            raise _invalid(f"header field {field} has an unknown identifier part")
        if name in parts:
            raise _invalid(f"header field {field} repeats {name}")
        if len(child):
            raise _invalid(f"header field {field} has child elements in {name}")
        text = child.text
        parts[name] = text.strip() if text else ""
    for required in _REQUIRED_ID_PARTS:
        if required not in parts:
            raise _invalid(f"header field {field} lacks {required}")
    return object_type, parts


# Every response echoes the same few identifiers: remember the checked ones by their raw parts (bounded, as the
# keys come from the network), so that the regular-expression checks run once per distinct identifier.
_IDENTIFIER_CACHE: dict[tuple[str, str, tuple[tuple[str, str], ...]], ClientId | ServiceId] = {}
_IDENTIFIER_CACHE_SIZE = 256


def _cached_identifier(field: str, element: etree._Element) -> ClientId | ServiceId:
    object_type, parts = _identifier_parts(element, field)
    key = (field, object_type, tuple(parts.items()))
    found = _IDENTIFIER_CACHE.get(key)
    if found is None:
        found = (
            _client_from_parts(object_type, parts)
            if field == "client"
            else _service_from_parts(object_type, parts, field)
        )
        if len(_IDENTIFIER_CACHE) < _IDENTIFIER_CACHE_SIZE:
            _IDENTIFIER_CACHE[key] = found
    return found


def _client_id(element: etree._Element) -> ClientId:
    found = _cached_identifier("client", element)
    assert isinstance(found, ClientId)
    return found


def _client_from_parts(object_type: str, parts: dict[str, str]) -> ClientId:
    subsystem = parts.get("subsystemCode")
    if "serviceCode" in parts or "serviceVersion" in parts:
        raise _invalid("header field client has service parts")
    if object_type != ("MEMBER" if subsystem is None else "SUBSYSTEM"):
        raise _invalid("header field client has an objectType that does not fit its parts")
    try:
        return ClientId(parts["xRoadInstance"], parts["memberClass"], parts["memberCode"], subsystem)
    except InvalidIdentifier as exc:
        raise _invalid(f"header field client is malformed ({exc.extra.get('part')})") from exc


def parse_service_id(element: etree._Element, field: str = "service") -> ServiceId:
    """A ``XRoadServiceIdentifierType`` element (``id:objectType="SERVICE"``) as a ServiceId."""
    found = _cached_identifier(field, element)
    assert isinstance(found, ServiceId)
    return found


def _service_from_parts(object_type: str, parts: dict[str, str], field: str) -> ServiceId:
    if object_type != "SERVICE":
        raise _invalid(f"header field {field} has an objectType other than SERVICE")
    if "serviceCode" not in parts:
        raise _invalid(f"header field {field} lacks serviceCode")
    try:
        return ServiceId(
            parts["xRoadInstance"],
            parts["memberClass"],
            parts["memberCode"],
            parts.get("subsystemCode"),
            parts["serviceCode"],
            parts.get("serviceVersion"),
        )
    except InvalidIdentifier as exc:
        raise _invalid(f"header field {field} is malformed ({exc.extra.get('part')})") from exc


_HEADER_FIELDS = {
    clark(XROAD, name): name
    for name in ("client", "service", "id", "userId", "issue", "protocolVersion", "requestHash")
}


def _trimmed(text: str | None) -> str | None:
    return None if text is None else text.strip()


def _headers(header: etree._Element) -> tuple[Headers, str | None, str | None]:
    fields: dict[str, etree._Element] = {}
    for child in header:
        name = _HEADER_FIELDS.get(child.tag)
        if name is None:
            continue  # representedParty and foreign headers are not ours to judge
        if name in fields:
            raise _invalid(f"duplicate header field {name}")
        fields[name] = child
    for required in ("client", "service", "id", "protocolVersion"):
        if required not in fields:
            raise _invalid(f"missing header field {required}")
    message_id = _leaf_text(fields["id"], "id")
    if not message_id.strip():
        raise _invalid("header field id is empty")
    user_id = fields.get("userId")
    issue = fields.get("issue")
    headers = Headers(
        client=_client_id(fields["client"]),
        service=parse_service_id(fields["service"]),
        id=message_id,
        user_id=None if user_id is None else _leaf_text(user_id, "userId"),
        issue=None if issue is None else _leaf_text(issue, "issue"),
        protocol_version=_leaf_text(fields["protocolVersion"], "protocolVersion").strip(),
    )
    hash_element = fields.get("requestHash")
    if hash_element is None:
        return headers, None, None
    digest = "".join(_leaf_text(hash_element, "requestHash").split())
    return headers, digest, hash_element.get("algorithmId")


def _squeezed_text(element: etree._Element) -> str:
    text = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    return " ".join(text.split())


def _fault(element: etree._Element) -> Fault:
    # SOAP 1.1 fault children are unqualified; be lenient and match them by local name.
    parts: dict[str, etree._Element] = {}
    for child in element:
        local = etree.QName(child).localname
        if local in parts:
            raise _invalid(f"SOAP fault repeats {local}")
        parts[local] = child
    code_element = parts.get("faultcode")
    code = "" if code_element is None else (code_element.text or "").strip()
    if not code:
        raise _invalid("SOAP fault without a faultcode")
    if "faultstring" not in parts:
        raise _invalid("SOAP fault without a faultstring")
    detail = None
    detail_element = parts.get("detail")
    if detail_element is not None:
        # X-Road puts the proxy log UUID into detail/faultDetail; other services put anything there.
        found = [c for c in _children(detail_element) if etree.QName(c).localname == "faultDetail"]
        source = found[0] if found else detail_element
        detail = _squeezed_text(source)[:1000] or None
    return Fault(
        code=code,
        string=_squeezed_text(parts["faultstring"]),
        detail=detail,
        family=classify_fault(code),
    )


def parse_message(data: bytes, content_type: str | None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Message:
    """Parse an X-Road SOAP 4.0 message (a response, a fault, or a request) from the HTTP entity body.

    ``content_type`` is the HTTP Content-Type (its charset and, for multipart, its boundary are used); when
    it is None and the data starts with ``--`` the data is read as multipart with the first line's boundary.
    Raises ``InvalidUpstreamResponse`` when the data is not a well-formed, DTD-free SOAP 1.1 X-Road message.
    ``protocolVersion`` is read but not judged here (see ``verify_response``).
    """
    if len(data) > max_bytes:
        raise _invalid("message larger than allowed")
    try:
        xml, charset = _xml_bytes(data, content_type)
        root = _parse_xml(xml, charset)
    except (UnicodeError, LookupError, ValueError, TypeError) as exc:
        # Whatever a codec or the MIME framing raises on odd input is still an answer that cannot be read.
        raise _invalid("the message cannot be decoded") from exc
    if root.tag != ENVELOPE:
        if etree.QName(root).localname == "Envelope":
            raise _invalid("not a SOAP 1.1 envelope")
        raise _invalid("root element is not a SOAP envelope")
    header: etree._Element | None = None
    body: etree._Element | None = None
    for child in root:
        if child.tag == HEADER:
            if header is not None or body is not None:
                raise _invalid("more than one or a misplaced SOAP Header")
            header = child
        elif child.tag == BODY:
            if body is not None:
                raise _invalid("more than one SOAP Body")
            body = child
    if body is None:
        raise _invalid("missing SOAP Body")
    content = _children(body)
    faults = [c for c in content if c.tag == FAULT]
    if faults:
        if len(content) != 1:
            raise _invalid("SOAP Body holds a fault and something else")
        return Message(None, None, None, None, _fault(faults[0]))
    if not content:
        raise _invalid("empty SOAP Body")
    if len(content) > 1:
        raise _invalid("SOAP Body has more than one child element")
    if header is None:
        raise _invalid("missing SOAP Header")
    headers, digest, algorithm = _headers(header)
    return Message(headers, digest, algorithm, content[0], None)


# --- verification -------------------------------------------------------------------------------------------


def _raise_fault(fault: Fault) -> NoReturn:
    # Only a code that cannot carry personal data goes into the message (which may be logged); any other (a
    # provider could put a name there) stays, like faultstring and detail, in the error's extra only.
    shown = fault.code if is_loggable_fault_code(fault.code) else "(code not shown)"
    raise UpstreamFault(
        f"SOAP fault {shown} ({fault.family.value})",
        fault_code=fault.code,
        fault_string=fault.string,
        fault_detail=fault.detail,
        fault_family=fault.family.value,
    )


def _check_request_hash(message: Message, sent: bytes) -> None:
    if message.request_hash is None:
        raise RequestHashMismatch("response has no requestHash")
    algorithm = message.request_hash_algorithm or SHA512_URI
    hash_function = _HASHES.get(algorithm)
    if hash_function is None:
        raise RequestHashMismatch("requestHash uses an unsupported algorithm")
    try:
        received = base64.b64decode(message.request_hash, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestHashMismatch("requestHash is not valid base64") from exc
    if not hmac.compare_digest(received, hash_function(sent).digest()):
        raise RequestHashMismatch()


def verify_response(message: Message, sent: bytes, expected: Headers) -> etree._Element:
    """Check that ``message`` answers the request ``sent`` with headers ``expected``; return the body wrapper.

    Raises ``UpstreamFault`` for a fault, ``RequestHashMismatch`` when requestHash is missing or is not the
    hash of ``sent``, ``InconsistentResponse`` when a header is not echoed exactly, protocolVersion is not
    4.x, or the wrapper is not ``<serviceCode>Response``.
    """
    if message.fault is not None:
        _raise_fault(message.fault)
    headers, body = message.headers, message.body
    if headers is None or body is None:
        raise InconsistentResponse("response has no headers or no body")
    _check_request_hash(message, sent)
    for field, got, want in (
        ("client", headers.client, expected.client),
        ("service", headers.service, expected.service),
        # Pretty-printed real responses indent the text of these leaves: compare them trimmed.
        ("id", _trimmed(headers.id), _trimmed(expected.id)),
        ("userId", _trimmed(headers.user_id), _trimmed(expected.user_id)),
        ("issue", _trimmed(headers.issue), _trimmed(expected.issue)),
    ):
        if got != want:
            raise InconsistentResponse(f"response header {field} does not echo the request", field=field)
    if not headers.protocol_version.startswith("4."):
        raise InconsistentResponse("response has an unsupported protocolVersion", field="protocolVersion")
    if etree.QName(body).localname != expected.service.service_code + "Response":
        raise InconsistentResponse("response wrapper element is not <serviceCode>Response", field="body")
    return body
