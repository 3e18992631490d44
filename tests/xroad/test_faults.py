import pytest

from xroad_vtj.xroad import FaultFamily, classify_fault, fault_name

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
    from xroad_vtj.xroad import loggable_fault_text

    shown = loggable_fault_text(text)
    assert (shown == text) is kept
    if not kept:
        assert shown is not None and shown.startswith("sha256:") and "010280" not in shown
