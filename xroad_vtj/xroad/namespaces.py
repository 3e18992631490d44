"""Namespace URIs of X-Road SOAP 4.0 messages and the Clark-notation tags the parser compares against."""

from __future__ import annotations

from typing import Final

SOAP_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
XROAD: Final = "http://x-road.eu/xsd/xroad.xsd"
IDENTIFIERS: Final = "http://x-road.eu/xsd/identifiers"
REPRESENTATION: Final = "http://x-road.eu/xsd/representation.xsd"

SHA512_URI: Final = "http://www.w3.org/2001/04/xmlenc#sha512"


def clark(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


ENVELOPE: Final = clark(SOAP_ENV, "Envelope")
HEADER: Final = clark(SOAP_ENV, "Header")
BODY: Final = clark(SOAP_ENV, "Body")
FAULT: Final = clark(SOAP_ENV, "Fault")
OBJECT_TYPE: Final = clark(IDENTIFIERS, "objectType")
