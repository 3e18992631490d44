"""Whose fault is a SOAP fault? Classifying X-Road fault codes in both spellings.

Up to X-Road 7.7 the security server writes CamelCase codes (``Server.ClientProxy.NetworkError``); 7.8 writes
lower snake case (``server.clientproxy.network_error``) and older provider servers still send the old form,
so every comparison here is case-insensitive and ignores ``_``.

The prefix says who failed: ``Server.ClientProxy.*`` our own security server, ``Server.ServerProxy.*`` the
provider's security server, ``Client.*`` our request; a code containing ``ServiceFailed`` means the provider's
service misbehaved, and any other code (``soap:Server``, ``foo:FOOCODE``, …) was raised by the provider's
service itself and passed through.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

__all__ = ["FaultFamily", "classify_fault", "fault_name"]


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


_SAFE_CODE = re.compile(r"[A-Za-z._:\-]{1,128}")
_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def loggable_fault_text(text: str | None) -> str | None:
    """``text`` when it cannot carry personal data (a dotted code without digits, or a UUID), else its digest.

    faultcodes and faultDetail ids from X-Road are kept as they are; free text from a provider service (which may
    echo a hetu or a name) becomes ``sha256:<16 hex>``, still comparable across log lines and audit records.
    """
    if text is None:
        return None
    if _SAFE_CODE.fullmatch(text) or _UUID.fullmatch(text):
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
