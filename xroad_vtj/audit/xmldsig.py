"""XML-DSig for checkpoints and evidence documents, through xmlsec (libxmlsec1).

Every document is signed whole: one enveloped signature, the last child of the root element, with one
``Reference URI=""`` (enveloped-signature + exclusive C14N transforms), SHA-256 digests, RSA-SHA256 or
ECDSA-SHA256 depending on the key, and the signing certificate in ``KeyInfo/X509Data``. That is the shape
``xmlsec1 --verify --pubkey-cert-pem signing.crt FILE.xml`` checks with nothing else at hand.

Verification here is stricter than a bare signature check: the certificate is the configured one (never the
one inside the document) and the signature must have exactly that shape, so that no signed part can be moved
or wrapped around unsigned content.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import xmlsec
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lxml import etree
from xmlsec import constants as consts

from xroad_vtj.errors import ConfigError

DS = "http://www.w3.org/2000/09/xmldsig#"
_NS = {"ds": DS}

_PARSERS = threading.local()  # lxml parsers must not be shared between threads (verify runs in workers)


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
        _PARSERS.parser = parser
    return parser


class SignatureInvalid(Exception):
    """A document's signature does not verify (its message names no personal data)."""


class Signer:
    """The configured signing key and certificate, loaded once."""

    def __init__(self, key_file: Path, cert_file: Path, previous_cert_files: Sequence[Path] = ()) -> None:
        try:
            key_pem = key_file.read_bytes()
            self._cert_pem = cert_file.read_bytes()
            previous = [p.read_bytes() for p in previous_cert_files]
        except OSError as e:
            raise ConfigError(
                f"audit.signing_key_file or audit.signing_cert_file cannot be read ({e.strerror})"
            ) from None
        try:
            private = load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError("audit.signing_key_file is not an unencrypted PEM private key") from None
        if isinstance(private, rsa.RSAPrivateKey):
            self._method = consts.TransformRsaSha256
        elif isinstance(private, ec.EllipticCurvePrivateKey):
            self._method = consts.TransformEcdsaSha256
        else:
            raise ConfigError("audit.signing_key_file must hold an RSA or EC key")
        try:
            self._key = xmlsec.Key.from_memory(key_pem, consts.KeyDataFormatPem)
            self._key.load_cert_from_memory(self._cert_pem, consts.KeyDataFormatCertPem)
        except xmlsec.Error:
            raise ConfigError("audit.signing_cert_file does not belong to audit.signing_key_file") from None
        self.verifier = Verifier([self._cert_pem, *previous])

    def sign(self, root: etree._Element) -> bytes:
        """Sign ``root`` in place (enveloped signature appended) and return the serialised document."""
        signature = xmlsec.template.create(root, consts.TransformExclC14N, self._method, ns="ds")
        root.append(signature)
        ref = xmlsec.template.add_reference(signature, consts.TransformSha256, uri="")
        xmlsec.template.add_transform(ref, consts.TransformEnveloped)
        xmlsec.template.add_transform(ref, consts.TransformExclC14N)
        key_info = xmlsec.template.ensure_key_info(signature)
        x509 = xmlsec.template.add_x509_data(key_info)
        xmlsec.template.x509_data_add_certificate(x509)
        ctx = xmlsec.SignatureContext()
        ctx.key = self._key
        ctx.sign(signature)
        document: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        # prove the document we hand out verifies as written (a broken signature must never leave here)
        self.verifier.verify(document)
        return document


class Verifier:
    """Checks signatures against the configured certificate and the previous ones (after a key change)."""

    def __init__(self, cert_pems: Sequence[bytes]) -> None:
        try:
            self._keys = [xmlsec.Key.from_memory(pem, consts.KeyDataFormatCertPem) for pem in cert_pems]
        except xmlsec.Error:
            raise ConfigError("audit.signing_cert_file is not a PEM certificate") from None

    def verify(self, document: bytes) -> etree._Element:
        """The document's root element once its signature is verified; raises :class:`SignatureInvalid`."""
        try:
            root: etree._Element = etree.fromstring(document, _parser())
        except etree.XMLSyntaxError:
            raise SignatureInvalid("not well-formed XML") from None
        signatures = root.findall(".//ds:Signature", _NS)
        if (
            len(signatures) != 1
            or signatures[0].getparent() is not root
            or root[len(root) - 1] is not signatures[0]
        ):
            raise SignatureInvalid("expected exactly one enveloped signature, last child of the root")
        signature = signatures[0]
        refs = signature.findall("ds:SignedInfo/ds:Reference", _NS)
        if len(refs) != 1 or refs[0].get("URI") != "":
            raise SignatureInvalid("the signature must cover the whole document")
        transforms = [t.get("Algorithm") for t in refs[0].findall("ds:Transforms/ds:Transform", _NS)]
        if transforms != [
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/2001/10/xml-exc-c14n#",
        ]:
            raise SignatureInvalid("unexpected signature transforms")
        for key in self._keys:
            ctx = xmlsec.SignatureContext()
            ctx.key = key
            try:
                ctx.verify(signature)
            except xmlsec.Error:
                continue
            return root
        raise SignatureInvalid("the signature does not verify with the configured certificate")
