"""The X-Road security server's own proxy test inputs, read by our parser.

Every ``*.answer`` (service responses) and ``*.query`` (client requests) file of
``<repo>/../shared/reference/xroad/proxy-testsuite`` has an entry in ``EXPECTED``: accepted, a fault of a
given code and family, or refused as invalid with a named problem. A file without an entry, an entry without
a file, or any change of behaviour fails. The files carry HTTP bodies only; multipart ones are recognised
from their first line (content_type None), as the security server's tests set the Content-Type in code.

``parse_message`` judges structure only. Some requests are well-formed but a security server refuses them
for their content (wrapper name ≠ serviceCode, protocolVersion not 4.x); ``SEMANTIC`` lists those and checks
that the parsed message exposes what is needed to see it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from xroad_vtj.errors import InconsistentResponse, InvalidUpstreamResponse, RequestHashMismatch
from xroad_vtj.xroad import (
    ClientId,
    FaultFamily,
    Headers,
    Message,
    ServiceId,
    parse_message,
    request_hash,
    verify_response,
)

pytestmark = pytest.mark.conformance

REFERENCE = Path(
    os.environ.get("XROAD_VTJ_REFERENCE")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
)
SUITE = REFERENCE / "xroad" / "proxy-testsuite"


def _require(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"reference material missing in CI: {path}")
        pytest.skip(f"reference material not present: {path}")
    return path


@dataclass(frozen=True)
class Accepted:
    note: str = ""


@dataclass(frozen=True)
class IsFault:
    code: str
    family: FaultFamily


@dataclass(frozen=True)
class Invalid:
    problem: str


OK = Accepted()
SERVICE = FaultFamily.PROVIDER_SERVICE

EXPECTED: dict[str, Accepted | IsFault | Invalid] = {
    # --- responses --------------------------------------------------------------------------------------
    "attachm-mtom.answer": Accepted("MTOM, SOAP part declared application/xop+xml"),
    "attachm.answer": OK,
    "attachm2-utf8bom-inside.answer": Accepted("multipart, UTF-8 BOM at the start of the SOAP part"),
    "attachm2.answer": Accepted("multipart with a nested multipart attachment"),
    "attachment-small-mantis.answer": Accepted("no newline at the end"),
    "attachments.answer": Accepted("multipart with three attachments"),
    "bigAttachment.answer": OK,
    "cdata.answer": Accepted("CDATA in a foreign header and in the body"),
    "customfault.answer": IsFault("foo:FOOCODE", SERVICE),
    "customsoapenv.answer": IsFault("soapenv:Server.CODE", SERVICE),
    "faulty-fault.answer": IsFault("soap:Server", SERVICE),
    "getstate-iso88591.answer": Accepted("no encoding declared"),
    "getstate-subsystem.answer": OK,
    "getstate.answer": OK,
    "mimesoap.answer": Accepted("multipart with only the SOAP part"),
    "missing-userId.answer": OK,
    "nowhitespace.answer": OK,
    "requesthash.answer": Accepted("requestHash 'foo': parsed, refused by verify_response"),
    "response-with-requestId.answer": Invalid(r"header field service is malformed \(subsystemCode\)"),
    "simple-comment.answer": Accepted("multi-line comment in the header"),
    "simple.answer": OK,
    "smallAttachment.answer": OK,
    "soapfault-mtom.answer": IsFault("soap:Server", SERVICE),
    "split-header.answer": Accepted("header fields out of order, issue over several lines"),
    "xmlencoded.answer": Accepted("character and entity references"),
    "xop.answer": Accepted("XOP, folded MIME header"),
    # --- requests ---------------------------------------------------------------------------------------
    "allowedMethods.query": OK,
    "attach-error-withsoap.query": OK,
    "attachm-error.query": Accepted("the broken part is an attachment; the SOAP part is fine"),
    "attachm-faulty-soap.query": Invalid("missing header field service"),
    "attachm-mtom.query": OK,
    "attachm-no-soap.query": Invalid("the first multipart part is not a SOAP message"),
    "attachm.query": OK,
    "attachm2-utf8bom-inside.query": Invalid("header field id is empty"),
    "attachm2.query": OK,
    "attachment-small-mantis.query": Invalid("empty body"),
    "attachments.query": OK,
    "bigAttachment.query": OK,
    "cdata.query": OK,
    "empty.query": Invalid("empty body"),
    "fault.query": IsFault("CODE", SERVICE),
    "faulty-header.query": Invalid("missing header field service"),
    "faulty-header2.query": Invalid("duplicate header field client"),
    "faulty-multipart.query": Invalid("multipart SOAP part is not terminated by the boundary"),
    "getstate-defaultnamespace.query": Accepted("default namespaces for xroad.xsd and identifiers"),
    "getstate-subsystem.query": OK,
    "getstate.query": OK,
    "inconsistent-headers.query": OK,
    "invalid-service-address.query": OK,
    "listMethods.query": OK,
    "malformed-body1.query": Invalid("SOAP Body has more than one child element"),
    "malformed-body2.query": Invalid("empty SOAP Body"),
    "malformed-body3.query": OK,
    "malformed-protocolVersion.query": OK,
    "mimesoap.query": OK,
    "missing-body.query": Invalid("missing SOAP Body"),
    "missing-org.query": Accepted("unknown member: the security server's business, not the parser's"),
    "missing-protocolVersion.query": Invalid("missing header field protocolVersion"),
    "missing-userId.query": OK,
    "missingobjecttype.query": Invalid("header field service has no id:objectType attribute"),
    "no-header.query": Invalid("missing SOAP Header"),
    "no-signature.query": OK,
    "no-soap.query": Invalid("the SOAP part is empty"),
    "notAllowed.query": OK,
    "nowhitespace.query": OK,
    "proxyemulator.query": OK,
    "request-suffix.query": OK,
    "signing-error-request.query": OK,
    "signing-error-response.query": OK,
    "simple-representedparty.query": Accepted("representedParty extension header is ignored"),
    "simple-rpc.query": OK,
    "simple.query": OK,
    "smallAttachment.query": OK,
    "soapfault-mtom.query": OK,
    "soapfaulterror.query": IsFault("SOAP-ENV:Clientrwerete", SERVICE),
    "split-header.query": OK,
    "wrong-protocolVersion.query": OK,
    "wrong-version.query": OK,
    "xml.query": OK,
    "xmlencoded.query": OK,
}

# Well-formed requests a security server refuses for their content: file -> what is wrong.
SEMANTIC = {
    "attach-error-withsoap.query": "wrapper",
    "attachm-error.query": "wrapper",
    "no-signature.query": "wrapper",
    "inconsistent-headers.query": "wrapper",
    "malformed-body3.query": "wrapper",
    "request-suffix.query": "wrapper",
    "malformed-protocolVersion.query": "protocolVersion",
    "wrong-protocolVersion.query": "protocolVersion",
    "wrong-version.query": "protocolVersion",
}


def _problems_a_security_server_would_see(message: Message) -> set[str]:
    assert message.headers is not None and message.body is not None
    problems = set()
    if message.body.tag.rsplit("}", 1)[-1] != message.headers.service.service_code:
        problems.add("wrapper")
    if not message.headers.protocol_version.startswith("4."):
        problems.add("protocolVersion")
    return problems


def test_every_file_has_an_expectation_and_every_expectation_a_file() -> None:
    present = {p.name for p in _require(SUITE).iterdir() if p.suffix in (".answer", ".query")}
    assert present == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_testsuite_file_is_classified_as_expected(name: str) -> None:
    data = (_require(SUITE) / name).read_bytes()
    expected = EXPECTED[name]
    if isinstance(expected, Invalid):
        with pytest.raises(InvalidUpstreamResponse, match=expected.problem):
            parse_message(data, None)
        return
    message = parse_message(data, None)
    if isinstance(expected, IsFault):
        assert message.fault is not None
        assert (message.fault.code, message.fault.family) == (expected.code, expected.family)
        assert message.headers is None
        return
    assert message.fault is None
    assert message.headers is not None
    assert message.body is not None
    if name.endswith(".answer"):
        assert message.body.tag.endswith("Response")
    else:
        assert message.request_hash is None
        assert _problems_a_security_server_would_see(message) == (
            {SEMANTIC[name]} if name in SEMANTIC else set()
        )


def test_request_hash_that_is_not_base64_is_refused_by_verification() -> None:
    message = parse_message((_require(SUITE) / "requesthash.answer").read_bytes(), None)
    assert message.request_hash == "foo"
    assert message.headers is not None
    with pytest.raises(RequestHashMismatch, match="base64"):
        verify_response(message, b"<any/>", message.headers)


def test_answers_without_request_hash_fail_verification_even_with_their_own_headers() -> None:
    message = parse_message((_require(SUITE) / "simple.answer").read_bytes(), None)
    assert message.headers is not None
    with pytest.raises(RequestHashMismatch, match="no requestHash"):
        verify_response(message, b"<any/>", message.headers)


def test_vrk_fake_vtj_response_parses_with_its_request_hash() -> None:
    path = _require(REFERENCE / "vtj" / "vrk-kpa" / "response-found-210281-9988.xml")
    message = parse_message(path.read_bytes(), "text/xml; charset=UTF-8")
    assert message.fault is None
    expected = Headers(
        ClientId("FI-DEV", "COM", "1516651-3", "kapatunnistus"),
        ServiceId("FI-DEV", "GOV", "0245437-2", "VTJService", "HenkilonTunnusKysely", "v1"),
        "ID11234",
        user_id="tunnistus",
        issue="",
        protocol_version="",  # the fake sends an empty protocolVersion; a real security server would not
    )
    assert message.headers == expected
    assert message.request_hash == (
        "vgKYXOUqhlyDyIfv2VFNaMhIg2KGudLLTbkrC6RY5zqtGlKfMTNg5z1Q4mDfHOktbgc0+ce5OhPEbDlrmVRGaA=="
    )
    assert message.request_hash_algorithm == "http://www.w3.org/2001/04/xmlenc#sha512"
    assert message.body is not None
    assert message.body.tag == "{http://xml.vrk.fi/ws/vtj/vtjkysely/1}HenkilonTunnusKyselyResponse"
    # We do not have the request bytes it answered, so the hash cannot match ours.
    with pytest.raises(RequestHashMismatch):
        verify_response(message, b"<not the request/>", expected)


def test_vrk_fake_vtj_response_with_empty_protocol_version_is_inconsistent_once_the_hash_matches() -> None:
    path = _require(REFERENCE / "vtj" / "vrk-kpa" / "response-found-210281-9988.xml")
    message = parse_message(path.read_bytes(), "text/xml")
    assert message.headers is not None
    sent = b"<the request we pretend to have sent/>"
    rehashed = Message(message.headers, request_hash(sent), None, message.body, None)
    with pytest.raises(InconsistentResponse, match="protocolVersion"):
        verify_response(rehashed, sent, message.headers)
