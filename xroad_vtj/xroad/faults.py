"""Whose fault is a SOAP fault? Classifying X-Road fault codes in both spellings.

Up to X-Road 7.7 the security server writes CamelCase codes (``Server.ClientProxy.NetworkError``); 7.8 writes
lower snake case (``server.clientproxy.network_error``) and older provider servers still send the old form,
so every comparison here is case-insensitive and ignores ``_``.

The prefix says who failed: ``Server.ClientProxy.*`` our own security server, ``Server.ServerProxy.*`` the
provider's security server, ``Client.*`` our request; a code containing ``ServiceFailed`` means the provider's
service misbehaved, and any other code (``soap:Server``, ``foo:FOOCODE``, …) was raised by the provider's
service itself and passed through.

What may be logged: a faultcode verbatim only when X-Road knows it (a family prefix followed by names from
X-Road's own list, either spelling) or when it is a provider's code with nothing that looks like a name (an
optional SOAP namespace prefix, then SOAP's own codes, X-Road's error names or all-capital tokens without six
digits in a row). Every other text, and any fault detail that is not a UUID, is logged as a keyed HMAC digest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import StrEnum

__all__ = [
    "FaultFamily",
    "classify_fault",
    "fault_digest",
    "fault_digest_key",
    "fault_name",
    "is_known_xroad_fault",
    "is_loggable_fault_code",
    "is_loggable_fault_text",
    "loggable_fault_text",
]


class FaultFamily(StrEnum):
    OUR_SECURITY_SERVER = "our_security_server"
    PROVIDER_SECURITY_SERVER = "provider_security_server"
    OUR_REQUEST = "our_request"
    PROVIDER_SERVICE = "provider_service"


def _squash(faultcode: str) -> str:
    return faultcode.strip().lower().replace("_", "")


def classify_fault(faultcode: str) -> FaultFamily:
    """The family of a ``faultcode`` text (pre-7.8 and 7.8 spellings alike)."""
    code = _squash(faultcode)
    if "servicefailed" in code:
        return FaultFamily.PROVIDER_SERVICE
    if code.startswith("server.clientproxy."):
        return FaultFamily.OUR_SECURITY_SERVER
    if code.startswith("server.serverproxy."):
        return FaultFamily.PROVIDER_SECURITY_SERVER
    if code == "client" or code.startswith("client."):
        return FaultFamily.OUR_REQUEST
    return FaultFamily.PROVIDER_SERVICE


# 7.8 renamed a few codes beyond the change of case; map the old name to the new one.
_RENAMED = {"outdated_global_conf": "global_conf_outdated"}
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_NAME = re.compile(r"[^a-z0-9_]+")
_MAX_NAME = 64


def fault_name(faultcode: str) -> str:
    """The last dotted part in 7.8 spelling: ``network_error`` for ``Server.ClientProxy.NetworkError`` and
    ``server.clientproxy.network_error`` alike; ``IOError`` → ``io_error``, ``soap:Server`` → ``server``.

    The result only holds ``a-z 0-9 _`` and at most 64 characters, but a provider service can send any
    code, so it is not a bounded set: use the family, not the name, as a metric label.
    """
    last = faultcode.strip().rsplit(".", 1)[-1].rsplit(":", 1)[-1]
    snake = _CAMEL_BOUNDARY.sub("_", last).lower()
    snake = _NOT_NAME.sub("_", snake).strip("_")[:_MAX_NAME] or "unknown"
    return _RENAMED.get(snake, snake)


# --- what may be logged ---------------------------------------------------------------------------------------

# The error names X-Road's security servers use (ErrorCodes in the X-Road source), squashed as by _squash(), so
# that ``NetworkError`` and ``network_error`` are one entry. A code is "known" when it is a family prefix followed
# only by such names: ``Server.ClientProxy.NetworkError``, ``server.serverproxy.service_failed.http_error``.
_XROAD_NAMES = frozenset(
    _squash(name)
    for name in (
        "AccessDenied", "AdapterServerError", "CannotCreateCertValidationInfo", "CannotCreateSignature",
        "CertValidation", "ClientProxy", "DatabaseError", "DuplicateHeaderField", "GlobalConfOutdated",
        "HttpError", "InconsistentHeaders", "InconsistentResponse", "IncorrectCertificate",
        "IncorrectValidationInfo", "InternalError", "InvalidAttachment", "InvalidBody", "InvalidCertPath",
        "InvalidClientIdentifier", "InvalidContentType", "InvalidHttpMethod", "InvalidMessage",
        "InvalidProtocolVersion", "InvalidRequest", "InvalidSecurityServer", "InvalidServiceIdentifier",
        "InvalidServiceType", "InvalidSignatureValue", "InvalidSoap", "InvalidXml", "IOError", "LoggingFailed",
        "MaintenanceMode", "MalformedGlobalConf", "MimeParsingFailed", "MissingHeaderField", "MissingSignature",
        "MissingSoap", "NetworkError", "OutdatedGlobalConf", "ServiceDisabled", "ServiceFailed",
        "SslAuthenticationFailed", "TimestampValidation", "Timeout", "UnknownAlgorithm", "UnknownHost",
        "UnknownMember", "UnknownService", "UnknownSubsystem",
    )
)  # fmt: skip
_XROAD_FAMILIES = (("server", "clientproxy"), ("server", "serverproxy"), ("client",))

# A provider service's own code: an optional namespace prefix X-Road and SOAP stacks use, then dotted parts
# that are SOAP 1.1's own codes, all-capital/digit tokens (``FOOCODE``, ``VTJ_0001``) or error names X-Road uses
# (``Server.VTJ.InternalError``). Any other word in lower or mixed case (``Aino.Testinen``) or six digits in a
# row (a date of birth) may be personal.
_SOAP_PREFIXES = frozenset({"soap", "soapenv", "soap-env", "env", "s", "se", "e", "soap12"})
_SOAP_CODES = frozenset({"Server", "Client", "VersionMismatch", "MustUnderstand"})
_CODE_TOKEN = re.compile(r"[A-Z0-9_\-]{1,64}")
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_MAX_CODE = 128


def is_known_xroad_fault(faultcode: str) -> bool:
    """Whether ``faultcode`` is one X-Road itself writes (pre-7.8 or 7.8 spelling), e.g.
    ``Server.ServerProxy.ServiceFailed.InconsistentResponse``."""
    if len(faultcode) > _MAX_CODE or not faultcode.isascii():
        return False
    parts = _squash(faultcode).split(".")
    for family in _XROAD_FAMILIES:
        if tuple(parts[: len(family)]) == family:
            names = parts[len(family) :]
            return bool(names) and all(name in _XROAD_NAMES for name in names)
    return False


def is_loggable_fault_code(faultcode: str) -> bool:
    """Whether ``faultcode`` may be logged as it is: a code X-Road knows, or a provider code without anything
    that looks like a name (see the module's rules above)."""
    code = faultcode.strip()
    if not code or len(code) > _MAX_CODE or not code.isascii():
        return False
    if is_known_xroad_fault(code):
        return True
    prefix, colon, rest = code.rpartition(":")
    if colon and prefix.lower() not in _SOAP_PREFIXES and not re.fullmatch(r"ns[0-9]{1,3}", prefix):
        return False
    parts = rest.split(".")
    return all(
        part in _SOAP_CODES
        or (_CODE_TOKEN.fullmatch(part) is not None and not _SIX_DIGITS.search(part))
        or (part.replace("_", "").isalpha() and _squash(part) in _XROAD_NAMES)
        for part in parts
    )


def fault_digest_key(data_key: bytes) -> bytes:
    """The key for fault-text digests, derived from the audit data key (HMAC-SHA256 with its own label), so
    that a digest cannot be reversed by anyone without that key and never equals another use of it."""
    return hmac.new(data_key, b"xroad-vtj fault text digest v1", hashlib.sha256).digest()


def fault_digest(text: str, key: bytes) -> str:
    """``hmac:<16 hex>``: equal texts give equal digests under one key, and nothing can be guessed back."""
    mac = hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "hmac:" + mac.hexdigest()[:16]


def loggable_fault_text(text: str | None, key: bytes) -> str | None:
    """``text`` when it cannot carry personal data (a loggable fault code, or a UUID such as X-Road's
    faultDetail), else its keyed digest (``fault_digest``), still comparable across log lines and records.

    ``key`` comes from :func:`fault_digest_key`. An unsalted hash is not enough: a hetu inside a fault text is
    found from one by brute force in a fraction of a second.
    """
    if text is None:
        return None
    return text if is_loggable_fault_text(text) else fault_digest(text, key)


def is_loggable_fault_text(text: str) -> bool:
    """Whether a fault code or detail may be logged as it is: a loggable code, or a UUID."""
    return is_loggable_fault_code(text) or _UUID.fullmatch(text) is not None
