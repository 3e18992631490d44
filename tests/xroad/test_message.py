"""parse_message and verify_response over hand-written fixtures (tests/fixtures/xroad).

Every response fixture answers the request in ``request-sent.xml`` and carries its requestHash, so each
awkward form is checked end to end: parsed, verified against the exact bytes sent, body returned.
"""

import base64
import hashlib
from pathlib import Path

import pytest
from lxml import etree

from xroad_vtj.errors import (
    InconsistentResponse,
    InvalidUpstreamResponse,
    RequestHashMismatch,
    UpstreamFault,
)
from xroad_vtj.xroad import (
    ClientId,
    FaultFamily,
    Headers,
    ServiceId,
    build_fault,
    build_request,
    build_response,
    parse_message,
    request_hash,
    verify_response,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xroad"
SENT = (FIXTURES / "request-sent.xml").read_bytes()
# base64(SHA-512(request-sent.xml)) computed outside this code: openssl dgst -sha512 -binary | base64
SENT_HASH = "cfo7mxrDfd43ovZBaZu51Q89xQs8c0wVPV8LwwXGKfpRotVKH+mLFyQ7fzfh7wXTRxvhafQPR1xmHwGHBRo58w=="
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
VTJ = "http://xml.vrk.fi/ws/vtj/vtjkysely/1"
HEADERS = Headers(
    ClientId("FI-TEST", "MUN", "0101263-6", "caseapp"),
    ServiceId("FI-TEST", "GOV", "0245437-2", "VTJkysely", "HenkilonTunnusKysely", "v1"),
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "kayttaja1",
    "asia 123",
)
MULTIPART = 'multipart/related; type="text/xml"; boundary="MIME-b0undary_42"; start="<soap-part@example.org>"'
MTOM = (
    'multipart/related; type="application/xop+xml"; boundary="uuid:6b62cda0-cf7a-4b7c-9b0a-ce0d4b7c8c2f";'
    ' start="<root.message@cxf.apache.org>"; start-info="text/xml"'
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def body_text(element: etree._Element) -> str:
    return etree.tostring(element, method="text", encoding="unicode")


# --- requestHash ------------------------------------------------------------------------------------------


def test_request_hash_is_base64_sha512_of_the_exact_bytes() -> None:
    assert request_hash(SENT) == SENT_HASH


def test_request_hash_changes_with_any_byte() -> None:
    assert request_hash(SENT + b"\n") != SENT_HASH
    assert request_hash(b"\xef\xbb\xbf" + SENT) != SENT_HASH


def test_request_fixture_is_what_build_request_makes() -> None:
    body = etree.Element(f"{{{VTJ}}}HenkilonTunnusKysely", nsmap={"ns": VTJ})
    request = etree.SubElement(body, "request")
    for name, value in [
        ("SoSoNimi", "PERUSJHHS3"),
        ("Kayttajatunnus", "testuser"),
        ("Salasana", "secret"),
        ("Loppukayttaja", "kayttaja1"),
        ("Laskutustiedot", None),
        ("Henkilotunnus", "010280-952L"),
        ("SahkoinenAsiointitunnus", None),
    ]:
        etree.SubElement(request, name).text = value
    assert build_request(HEADERS, body) == SENT
    assert parse_message(SENT, "text/xml; charset=UTF-8").headers == HEADERS


# --- accepted forms ---------------------------------------------------------------------------------------

ACCEPTED = [
    ("response-plain.xml", "text/xml; charset=UTF-8"),
    ("response-plain.xml", "text/xml"),
    ("response-plain.xml", None),
    ("response-plain.xml", 'text/xml; charset="utf-8"'),
    ("response-wrapped-request-hash.xml", "text/xml"),
    ("response-utf8-bom.xml", "text/xml; charset=UTF-8"),
    ("response-utf8-bom.xml", None),
    ("response-iso-8859-1.xml", "text/xml"),
    ("response-iso-8859-1.xml", "text/xml; charset=ISO-8859-1"),
    ("response-iso-8859-1.xml", None),
    ("response-charset-from-content-type.xml", "text/xml; charset=ISO-8859-1"),
    ("response-cdata.xml", "text/xml"),
    ("response-comments.xml", "text/xml"),
    ("response-default-namespace.xml", "text/xml"),
    ("response-no-whitespace.xml", "text/xml"),
    ("response-multipart.txt", MULTIPART),
    ("response-multipart.txt", None),
    ("response-mtom.txt", MTOM),
    ("response-mtom.txt", None),
]


@pytest.mark.parametrize(("name", "content_type"), ACCEPTED, ids=[f"{n}|{c}" for n, c in ACCEPTED])
def test_awkward_but_valid_response_parses_and_verifies(name: str, content_type: str | None) -> None:
    message = parse_message(fixture(name), content_type)
    assert message.fault is None
    assert message.headers == HEADERS
    assert message.request_hash == SENT_HASH
    assert message.request_hash_algorithm == SHA512
    body = verify_response(message, SENT, HEADERS)
    assert body.tag == f"{{{VTJ}}}HenkilonTunnusKyselyResponse"
    assert "Hämäläinen" in body_text(body)
    assert "010280-952L" in body_text(body)


def test_cdata_text_is_plain_text_after_parsing() -> None:
    body = parse_message(fixture("response-cdata.xml"), "text/xml").body
    assert body is not None
    assert "<not-an-element/>" in body_text(body)
    assert body.find(f".//{{{VTJ}}}not-an-element") is None


def test_comments_are_not_body_children() -> None:
    message = parse_message(fixture("response-comments.xml"), "text/xml")
    assert message.body is not None
    assert message.body.getparent() is not None
    assert len(message.body.getparent()) == 1  # type: ignore[arg-type]


def test_latin1_without_declaration_reads_wrong_when_the_charset_is_not_given() -> None:
    # The transport's charset is the only place that names it; without it UTF-8 is assumed and fails.
    with pytest.raises(InvalidUpstreamResponse):
        parse_message(fixture("response-charset-from-content-type.xml"), "text/xml")


def test_unknown_charset_is_refused() -> None:
    with pytest.raises(InvalidUpstreamResponse, match="charset"):
        parse_message(fixture("response-charset-from-content-type.xml"), "text/xml; charset=x-no-such")


def test_header_fields_in_any_order_and_unknown_fields_are_accepted() -> None:
    data = fixture("response-plain.xml")
    moved = data.replace(b"<xrd:issue>asia 123</xrd:issue>", b"")
    moved = moved.replace(
        b"<SOAP-ENV:Header>",
        b"<SOAP-ENV:Header><xrd:issue>asia 123</xrd:issue><other:x xmlns:other='urn:x'>y</other:x>",
    )
    assert parse_message(moved, "text/xml").headers == HEADERS


# --- faults -----------------------------------------------------------------------------------------------

FAULTS = [
    (
        "fault-pre-7.8.xml",
        "Server.ClientProxy.NetworkError",
        FaultFamily.OUR_SECURITY_SERVER,
        "0c3e5b1e-7d2f-4d8e-9a4b-2f6c1d9e8a7b",
    ),
    (
        "fault-7.8.xml",
        "server.clientproxy.network_error",
        FaultFamily.OUR_SECURITY_SERVER,
        "0c3e5b1e-7d2f-4d8e-9a4b-2f6c1d9e8a7b",
    ),
    (
        "fault-without-detail.xml",
        "Server.ServerProxy.ServiceFailed.InternalError",
        FaultFamily.PROVIDER_SERVICE,
        None,
    ),
    ("fault-with-headers.xml", "Client.InvalidSoap", FaultFamily.OUR_REQUEST, None),
]


@pytest.mark.parametrize(("name", "code", "family", "detail"), FAULTS, ids=[row[0] for row in FAULTS])
def test_fault_is_read_and_classified(name: str, code: str, family: FaultFamily, detail: str | None) -> None:
    message = parse_message(fixture(name), "text/xml; charset=UTF-8")
    assert message.headers is None
    assert message.body is None
    assert message.fault is not None
    assert message.fault.code == code
    assert message.fault.family is family
    assert message.fault.detail == detail
    assert message.fault.string


def test_fault_raises_upstream_fault_with_upstream_text_only_in_extra() -> None:
    message = parse_message(fixture("fault-pre-7.8.xml"), "text/xml")
    with pytest.raises(UpstreamFault) as info:
        verify_response(message, SENT, HEADERS)
    error = info.value
    assert error.extra["fault_code"] == "Server.ClientProxy.NetworkError"
    assert error.extra["fault_family"] == "our_security_server"
    assert error.extra["fault_detail"] == "0c3e5b1e-7d2f-4d8e-9a4b-2f6c1d9e8a7b"
    assert "10.0.0.1" in error.extra["fault_string"]
    assert "10.0.0.1" not in str(error)
    assert "Server.ClientProxy.NetworkError" in str(error)


def test_fault_code_that_is_not_a_protocol_token_stays_out_of_the_message() -> None:
    message = parse_message(build_fault("010280-952L", "x"), None)
    with pytest.raises(UpstreamFault) as info:
        verify_response(message, SENT, HEADERS)
    assert "010280-952L" not in str(info.value)
    assert info.value.extra["fault_code"] == "010280-952L"


def test_built_fault_reads_back() -> None:
    message = parse_message(build_fault("server.serverproxy.access_denied", "No access", "d-1"), None)
    assert message.fault is not None
    assert (message.fault.code, message.fault.string, message.fault.detail) == (
        "server.serverproxy.access_denied",
        "No access",
        "d-1",
    )
    assert message.fault.family is FaultFamily.PROVIDER_SECURITY_SERVER


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("faulty-fault-no-faultcode.xml", "without a faultcode"),
        ("faulty-fault-empty-faultcode.xml", "without a faultcode"),
        ("faulty-fault-no-faultstring.xml", "without a faultstring"),
        ("faulty-fault-beside-a-response.xml", "fault and something else"),
    ],
)
def test_faulty_fault_is_refused(name: str, problem: str) -> None:
    with pytest.raises(InvalidUpstreamResponse, match=problem):
        parse_message(fixture(name), "text/xml")


# --- structurally invalid messages ------------------------------------------------------------------------

PLAIN = fixture("response-plain.xml")
CLIENT_BLOCK = PLAIN[PLAIN.index(b"<xrd:client") : PLAIN.index(b"</xrd:client>") + len(b"</xrd:client>")]
BODY_BLOCK = PLAIN[PLAIN.index(b"<HenkilonTunnusKyselyResponse") : PLAIN.index(b"</SOAP-ENV:Body>")]

MUTATIONS = [
    ("missing client", CLIENT_BLOCK, b"", "missing header field client"),
    ("missing id", b"<xrd:id>7c9e6679-7425-40de-944b-e07fc1f90ae7</xrd:id>", b"", "missing header field id"),
    ("empty id", b"7c9e6679-7425-40de-944b-e07fc1f90ae7", b" ", "header field id is empty"),
    ("missing protocolVersion", b"<xrd:protocolVersion>4.0</xrd:protocolVersion>", b"", "protocolVersion"),
    ("duplicate client", CLIENT_BLOCK, CLIENT_BLOCK + CLIENT_BLOCK, "duplicate header field client"),
    (
        "duplicate userId",
        b"<xrd:userId>",
        b"<xrd:userId>a</xrd:userId><xrd:userId>",
        "duplicate header field userId",
    ),
    ("malformed member code", b">0101263-6<", b">0101263 6<", "client is malformed \\(memberCode\\)"),
    (
        "unnamespaced objectType",
        b'<xrd:client id:objectType="SUBSYSTEM">',
        b'<xrd:client objectType="SUBSYSTEM">',
        "objectType",
    ),
    (
        "objectType MEMBER with subsystem",
        b'id:objectType="SUBSYSTEM"',
        b'id:objectType="MEMBER"',
        "objectType",
    ),
    ("service objectType", b'id:objectType="SERVICE"', b'id:objectType="SUBSYSTEM"', "other than SERVICE"),
    (
        "repeated identifier part",
        b"<id:memberClass>MUN</id:memberClass>",
        b"<id:memberClass>MUN</id:memberClass>" * 2,
        "repeats memberClass",
    ),
    ("missing identifier part", b"<id:memberClass>MUN</id:memberClass>", b"", "lacks memberClass"),
    (
        "unknown identifier part",
        b"<id:memberClass>MUN</id:memberClass>",
        b"<id:memberClass>MUN</id:memberClass><id:x>1</id:x>",
        "unknown identifier part",
    ),
    (
        "missing serviceCode",
        b"<id:serviceCode>HenkilonTunnusKysely</id:serviceCode>",
        b"",
        "lacks serviceCode",
    ),
    (
        "header field with elements",
        b"<xrd:userId>kayttaja1</xrd:userId>",
        b"<xrd:userId><b>k</b></xrd:userId>",
        "child elements",
    ),
    (
        "no header",
        PLAIN[PLAIN.index(b"<SOAP-ENV:Header>") : PLAIN.index(b"<SOAP-ENV:Body>")],
        b"",
        "missing SOAP Header",
    ),
    ("two headers", b"<SOAP-ENV:Header>", b"<SOAP-ENV:Header/><SOAP-ENV:Header>", "more than one"),
    (
        "missing body",
        PLAIN[PLAIN.index(b"<SOAP-ENV:Body>") : PLAIN.index(b"</SOAP-ENV:Envelope>")],
        b"",
        "missing SOAP Body",
    ),
    ("empty body", BODY_BLOCK, b"", "empty SOAP Body"),
    ("two body children", BODY_BLOCK, BODY_BLOCK + BODY_BLOCK, "more than one child"),
    (
        "two bodies",
        b"</SOAP-ENV:Envelope>",
        b"<SOAP-ENV:Body><x/></SOAP-ENV:Body></SOAP-ENV:Envelope>",
        "more than one SOAP Body",
    ),
    ("not well-formed", b"</SOAP-ENV:Envelope>", b"</SOAP-ENV:Envelop>", "not well-formed"),
    ("undefined entity", b"asia 123", b"asia &nbsp; 123", "not well-formed"),
]


@pytest.mark.parametrize(("old", "new", "problem"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_structurally_broken_message_is_refused_naming_the_problem(
    old: bytes, new: bytes, problem: str
) -> None:
    assert old in PLAIN
    with pytest.raises(InvalidUpstreamResponse, match=problem) as info:
        parse_message(PLAIN.replace(old, new, 1), "text/xml")
    assert "010280-952L" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"<html><body>Bad gateway</body></html>", "root element is not a SOAP envelope"),
        (b"Bad gateway", "not well-formed"),
        (b'{"json": true}', "not well-formed"),
    ],
)
def test_what_is_not_soap_is_refused(data: bytes, problem: str) -> None:
    with pytest.raises(InvalidUpstreamResponse, match=problem):
        parse_message(data, "text/xml")


def test_soap_1_2_envelope_is_refused() -> None:
    with pytest.raises(InvalidUpstreamResponse, match=r"not a SOAP 1\.1 envelope"):
        parse_message(fixture("soap12-envelope.xml"), "application/soap+xml")


@pytest.mark.parametrize(
    ("data", "content_type", "problem"),
    [
        (fixture("response-multipart.txt"), "multipart/related", "without a boundary"),
        (fixture("response-multipart.txt"), 'multipart/related; boundary="other"', "boundary not found"),
        (fixture("response-multipart.txt"), "text/xml", "not well-formed"),
        (b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n", None, "not a SOAP message"),
        (b"--b\r\nContent-Type: text/xml\r\n\r\n<a/>", None, "not terminated"),
        (b"--b\r\nContent-Type: text/xml\r\n\r\n--b--\r\n", None, "part is empty"),
        (b"--b\r\nContent-Transfer-Encoding: base64\r\n\r\nPGEvPg==\r\n--b--", None, "transfer encoding"),
        (b"--\r\n", None, "boundary not found"),
    ],
)
def test_broken_multipart_is_refused(data: bytes, content_type: str | None, problem: str) -> None:
    with pytest.raises(InvalidUpstreamResponse, match=problem):
        parse_message(data, content_type)


def test_multipart_preamble_before_the_first_boundary_is_skipped() -> None:
    data = b"This is a MIME message.\r\n" + fixture("response-multipart.txt")
    assert parse_message(data, MULTIPART).headers == HEADERS


# --- hostile input ----------------------------------------------------------------------------------------


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    with pytest.raises(InvalidUpstreamResponse, match="document type"):
        parse_message(fixture("billion-laughs.xml"), "text/xml")


def test_external_entity_is_refused_and_the_file_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = PLAIN.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<?xml version="1.0"?>\n<!DOCTYPE e [<!ENTITY x SYSTEM "{secret.as_uri()}">]>\n'.encode(),
    ).replace(b"kayttaja1", b"&x;")
    with pytest.raises(InvalidUpstreamResponse, match="document type") as info:
        parse_message(data, "text/xml")
    assert "TOP-SECRET-VALUE" not in repr(info.value.__dict__)


def test_doctype_is_refused_even_when_the_prefilter_cannot_see_it() -> None:
    # UTF-16 hides "<!DOCTYPE" from the byte scan; the parsed tree's docinfo still shows it.
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE e [<!ENTITY x "y">]>\n'
        + PLAIN.decode().split("\n", 1)[1]
    )
    with pytest.raises(InvalidUpstreamResponse, match="document type"):
        parse_message(text.encode("utf-16"), "text/xml")


def test_external_entity_in_utf16_is_refused_without_reading_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    text = (
        f'<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE e [<!ENTITY x SYSTEM "{secret.as_uri()}">]>\n'
        + PLAIN.decode().split("\n", 1)[1].replace("kayttaja1", "&x;")
    )
    with pytest.raises(InvalidUpstreamResponse, match="document type") as info:
        parse_message(text.encode("utf-16"), "text/xml")
    assert "TOP-SECRET-VALUE" not in repr(info.value.__dict__)


def test_external_entity_through_parameter_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.dtd"
    secret.write_text('<!ENTITY leaked "TOP-SECRET-VALUE">')
    data = (
        f'<?xml version="1.0"?><!-- c --><!DOCTYPE e [<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;]>'.encode()
        + PLAIN.split(b"\n", 1)[1].replace(b"kayttaja1", b"&leaked;")
    )
    with pytest.raises(InvalidUpstreamResponse, match="document type"):
        parse_message(data, "text/xml")


def test_message_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidUpstreamResponse, match="larger than allowed"):
        parse_message(PLAIN, "text/xml", max_bytes=len(PLAIN) - 1)
    assert parse_message(PLAIN, "text/xml", max_bytes=len(PLAIN)).headers == HEADERS


def test_default_size_limit_is_two_megabytes() -> None:
    padding = b"<!--" + b"x" * (2 * 1024 * 1024) + b"-->"
    with pytest.raises(InvalidUpstreamResponse, match="larger than allowed"):
        parse_message(PLAIN.replace(b"<SOAP-ENV:Body>", b"<SOAP-ENV:Body>" + padding), "text/xml")


def test_ten_thousand_deep_nesting_is_refused() -> None:
    deep = b"<d>" * 10_000 + b"</d>" * 10_000
    with pytest.raises(InvalidUpstreamResponse, match="not well-formed"):
        parse_message(PLAIN.replace(b"<Henkilo>", b"<Henkilo>" + deep), "text/xml")


# --- verify_response --------------------------------------------------------------------------------------


def response(
    headers: Headers = HEADERS, *, wrapper: str = "HenkilonTunnusKyselyResponse", **kwargs: object
) -> bytes:
    body = etree.Element(f"{{{VTJ}}}{wrapper}")
    etree.SubElement(body, "response").text = "ok"
    request_hash_value = kwargs.get("request_hash", SENT_HASH)
    return build_response(headers, body, request_hash=request_hash_value)  # type: ignore[arg-type]


def verify(data: bytes, sent: bytes = SENT) -> etree._Element:
    return verify_response(parse_message(data, "text/xml"), sent, HEADERS)


def test_consistent_response_returns_its_body_wrapper() -> None:
    assert verify(response()).tag == f"{{{VTJ}}}HenkilonTunnusKyselyResponse"


OTHER_CLIENT = ClientId("FI-TEST", "MUN", "0101263-6", "otherapp")
OTHER_SERVICE = ServiceId("FI-TEST", "GOV", "0245437-2", "VTJkysely", "HenkilonTunnusKysely", "v2")


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        (Headers(OTHER_CLIENT, HEADERS.service, HEADERS.id, HEADERS.user_id, HEADERS.issue), "client"),
        (
            Headers(
                ClientId("FI-TEST", "MUN", "0101263-6"), HEADERS.service, HEADERS.id, "kayttaja1", "asia 123"
            ),
            "client",
        ),
        (Headers(HEADERS.client, OTHER_SERVICE, HEADERS.id, HEADERS.user_id, HEADERS.issue), "service"),
        (Headers(HEADERS.client, HEADERS.service, "another-id", HEADERS.user_id, HEADERS.issue), "id"),
        (Headers(HEADERS.client, HEADERS.service, HEADERS.id, "kayttaja2", HEADERS.issue), "userId"),
        (Headers(HEADERS.client, HEADERS.service, HEADERS.id, None, HEADERS.issue), "userId"),
        (Headers(HEADERS.client, HEADERS.service, HEADERS.id, HEADERS.user_id, "asia 124"), "issue"),
        (Headers(HEADERS.client, HEADERS.service, HEADERS.id, HEADERS.user_id, None), "issue"),
        (
            Headers(HEADERS.client, HEADERS.service, HEADERS.id, HEADERS.user_id, HEADERS.issue, "3.5"),
            "protocolVersion",
        ),
    ],
)
def test_header_not_echoed_exactly_is_inconsistent_and_named(changed: Headers, field: str) -> None:
    with pytest.raises(InconsistentResponse, match=field) as info:
        verify(response(changed))
    assert info.value.extra["field"] == field
    for value in ("kayttaja2", "asia 124", "another-id", "otherapp"):
        assert value not in str(info.value)


def test_pretty_printed_echo_with_indented_text_still_verifies() -> None:
    padded = Headers(
        HEADERS.client,
        HEADERS.service,
        f"\n      {HEADERS.id}\n    ",
        f"\n      {HEADERS.user_id}\n    ",
        f"\n      {HEADERS.issue}\n    ",
    )
    assert verify(response(padded)).tag == f"{{{VTJ}}}HenkilonTunnusKyselyResponse"


@pytest.mark.parametrize("wrapper", ["HenkilonTunnusKysely", "HenkilonTunnusKyselyResult", "OtherResponse"])
def test_wrapper_other_than_service_code_response_is_inconsistent(wrapper: str) -> None:
    with pytest.raises(InconsistentResponse, match="wrapper"):
        verify(response(wrapper=wrapper))


def test_missing_request_hash_is_a_mismatch() -> None:
    with pytest.raises(RequestHashMismatch, match="no requestHash"):
        verify(response(request_hash=None))


def test_request_hash_of_other_bytes_is_a_mismatch() -> None:
    with pytest.raises(RequestHashMismatch):
        verify(response(), sent=SENT + b" ")
    with pytest.raises(RequestHashMismatch):
        verify(response(request_hash=request_hash(b"something else")))


def test_request_hash_that_is_not_base64_is_a_mismatch() -> None:
    with pytest.raises(RequestHashMismatch, match="base64"):
        verify(response(request_hash="foo!"))


def test_request_hash_wrapped_over_lines_is_accepted() -> None:
    wrapped = "\n   ".join([SENT_HASH[:30], SENT_HASH[30:60], SENT_HASH[60:]]) + "\n"
    assert verify(response(request_hash=wrapped)) is not None


def test_request_hash_with_another_supported_algorithm_is_checked_with_it() -> None:
    sha256 = base64.b64encode(hashlib.sha256(SENT).digest()).decode()
    data = response(request_hash=sha256).replace(SHA512.encode(), b"http://www.w3.org/2001/04/xmlenc#sha256")
    assert verify(data) is not None
    with pytest.raises(RequestHashMismatch):
        verify(response(request_hash=sha256))  # labelled sha512 but is not


def test_request_hash_with_unknown_algorithm_is_a_mismatch() -> None:
    data = response().replace(SHA512.encode(), b"http://example.org/md5")
    with pytest.raises(RequestHashMismatch, match="algorithm"):
        verify(data)


def test_a_fault_code_that_looks_like_a_name_stays_out_of_the_message() -> None:
    message = parse_message(build_fault("Aino.Testinen", "x"), None)
    with pytest.raises(UpstreamFault) as info:
        verify_response(message, SENT, HEADERS)
    assert "Aino" not in str(info.value)
