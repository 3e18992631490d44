import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xroad_vtj.xroad import (
    FaultFamily,
    classify_fault,
    fault_digest,
    fault_digest_key,
    fault_name,
    is_loggable_fault_code,
    loggable_fault_text,
)
from xroad_vtj.xroad.faults import is_known_xroad_fault

OURS = FaultFamily.OUR_SECURITY_SERVER
PROVIDER_SS = FaultFamily.PROVIDER_SECURITY_SERVER
REQUEST = FaultFamily.OUR_REQUEST
SERVICE = FaultFamily.PROVIDER_SERVICE

# (pre-7.8 spelling, 7.8 spelling, family, normalised name)
TABLE = [
    ("Server.ClientProxy.NetworkError", "server.clientproxy.network_error", OURS, "network_error"),
    ("Server.ClientProxy.IOError", "server.clientproxy.io_error", OURS, "io_error"),
    (
        "Server.ClientProxy.SslAuthenticationFailed",
        "server.clientproxy.ssl_authentication_failed",
        OURS,
        "ssl_authentication_failed",
    ),
    (
        "Server.ClientProxy.OutdatedGlobalConf",
        "server.clientproxy.global_conf_outdated",
        OURS,
        "global_conf_outdated",
    ),
    ("Server.ClientProxy.MaintenanceMode", "server.clientproxy.maintenance_mode", OURS, "maintenance_mode"),
    ("Server.ServerProxy.AccessDenied", "server.serverproxy.access_denied", PROVIDER_SS, "access_denied"),
    (
        "Server.ServerProxy.UnknownService",
        "server.serverproxy.unknown_service",
        PROVIDER_SS,
        "unknown_service",
    ),
    (
        "Server.ServerProxy.ServiceDisabled",
        "server.serverproxy.service_disabled",
        PROVIDER_SS,
        "service_disabled",
    ),
    (
        "Server.ServerProxy.ServiceFailed.InconsistentResponse",
        "server.serverproxy.service_failed.inconsistent_response",
        SERVICE,
        "inconsistent_response",
    ),
    (
        "Server.ServerProxy.ServiceFailed.HttpError",
        "server.serverproxy.service_failed.http_error",
        SERVICE,
        "http_error",
    ),
    ("Client.InvalidXml", "client.invalid_xml", REQUEST, "invalid_xml"),
    ("Client.MissingHeaderField", "client.missing_header_field", REQUEST, "missing_header_field"),
    ("Client.InvalidProtocolVersion", "client.invalid_protocol_version", REQUEST, "invalid_protocol_version"),
    ("Client.UnknownMember", "client.unknown_member", REQUEST, "unknown_member"),
]


@pytest.mark.parametrize(("old", "new", "family", "name"), TABLE, ids=[row[0] for row in TABLE])
def test_both_spellings_fall_into_the_same_family_and_name(
    old: str, new: str, family: FaultFamily, name: str
) -> None:
    assert classify_fault(old) is family
    assert classify_fault(new) is family
    assert fault_name(old) == name
    assert fault_name(new) == name


@pytest.mark.parametrize(
    "code", ["SERVER.CLIENTPROXY.NETWORKERROR", "Server.clientProxy.Network_Error", " client.x "]
)
def test_classification_ignores_case_and_surrounding_space(code: str) -> None:
    assert classify_fault(code) in (OURS, REQUEST)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("soap:Server", "server"),
        ("foo:FOOCODE", "foocode"),
        ("soapenv:Server.CODE", "code"),
        ("Server", "server"),
        ("SOAP-ENV:Clientrwerete", "clientrwerete"),
        ("Server.Whatever", "whatever"),
    ],
)
def test_any_other_code_is_the_provider_services_own_fault(code: str, name: str) -> None:
    assert classify_fault(code) is SERVICE
    assert fault_name(code) == name


def test_bare_client_code_is_our_request() -> None:
    assert classify_fault("Client") is REQUEST


def test_fault_name_is_label_safe_and_bounded() -> None:
    name = fault_name("Server.ClientProxy." + "Ä<script>" * 40)
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")
    assert len(name) <= 64
    assert fault_name("...") == "unknown"


KEY = fault_digest_key(bytes(range(32)))


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Server.ClientProxy.NetworkError", True),
        ("server.serverproxy.service_failed.inconsistent_response", True),
        ("2f1a4c6e-3b7d-4e8f-9a0b-1c2d3e4f5a6b", True),
        ("Henkilö 010280-952L ei kelpaa", False),
        ("Server.VTJ.Error010280", False),
    ],
)
def test_loggable_fault_text_keeps_codes_and_ids_and_digests_free_text(text: str, kept: bool) -> None:
    shown = loggable_fault_text(text, KEY)
    assert (shown == text) is kept
    if not kept:
        assert shown is not None and shown.startswith("hmac:") and "010280" not in shown


@pytest.mark.parametrize(
    "code",
    [
        "Server.ClientProxy.NetworkError",
        "server.clientproxy.network_error",
        "Server.ServerProxy.ServiceFailed.InconsistentResponse",
        "server.serverproxy.service_failed.inconsistent_response",
        "Server.ClientProxy.OutdatedGlobalConf",
        "server.clientproxy.global_conf_outdated",
        "server.clientproxy.unknown_host",
        "Client.InvalidXml",
        "client.missing_header_field",
        "soap:Server",
        "SOAP-ENV:Client",
        "soapenv:Server.CODE",
        "Server",
        "FOOCODE",
        "VTJ_ERROR_0001",
        "0001",
        "Server.VTJ.InternalError",  # a provider's code made of X-Road's own words
        "soap:Server.internal_error",
    ],
)
def test_codes_x_road_knows_and_name_free_provider_codes_are_logged_verbatim(code: str) -> None:
    assert is_loggable_fault_code(code)
    assert loggable_fault_text(code, KEY) == code


@pytest.mark.parametrize(
    "code",
    [
        "Aino.Testinen",  # letters and dots: was logged as a "safe code"
        "Testinen",
        "aino",
        "Server.ClientProxy.Aino",  # a known family does not make any name after it known
        "server.serverproxy.service_failed.testinen",
        "Server.Whatever",
        "aino:FOOCODE",  # a prefix can be a name too
        "SOAP-ENV:Clientrwerete",
        "010280-952L",
        "ERR010280",
        "Server.ClientProxy.Network Error",
        "Sérver.ClientProxy.NetworkError",
        "Server.ClientProxy." + "NetworkError." * 20,
        "",
    ],
)
def test_anything_that_may_carry_a_name_or_a_hetu_is_digested(code: str) -> None:
    assert not is_loggable_fault_code(code)
    shown = loggable_fault_text(code, KEY)
    assert shown == fault_digest(code, KEY)
    assert shown is not None and shown.startswith("hmac:")


def test_the_digest_is_keyed_so_an_unsalted_brute_force_finds_nothing() -> None:
    text = "Henkilö 010280-952L ei kelpaa"
    other_key = fault_digest_key(bytes(32))
    assert fault_digest(text, KEY) == fault_digest(text, KEY)
    assert fault_digest(text, KEY) != fault_digest(text, other_key)
    unsalted = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert unsalted not in fault_digest(text, KEY)
    assert fault_digest_key(bytes(range(32))) != bytes(range(32))


UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


@given(st.one_of(st.text(max_size=80), st.from_regex(r"\A[A-Za-z0-9:._-]{1,40}\Z")))
def test_a_fault_text_logged_verbatim_holds_no_hetu_and_no_word_outside_the_protocols(text: str) -> None:
    shown = loggable_fault_text(text, KEY)
    if shown != text or UUID.fullmatch(text) or is_known_xroad_fault(text):
        return
    assert not re.search(r"[0-9]{6}", shown)
    prefix, _, rest = shown.rpartition(":")
    words = [w for w in re.split(r"[.]", rest) if re.search(r"[a-z]", w)]
    assert all(
        w in {"Server", "Client", "VersionMismatch", "MustUnderstand"} or is_known_xroad_fault("client." + w)
        for w in words
    ), shown
    assert prefix.lower() in {
        "",
        "soap",
        "soapenv",
        "soap-env",
        "env",
        "s",
        "se",
        "e",
        "soap12",
    } or re.fullmatch(r"ns[0-9]{1,3}", prefix)
