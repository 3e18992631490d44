"""The other keys the VTJ query interface takes, checked before anything is sent.

- SATU (``SahkoinenAsiointitunnus``, a person's electronic service identifier): 8 digits and a check character
  ``[0-9A-Z]``, 9 characters. The rule of the check character is not public: only the shape is checked.
- Permanent building identifier (VTJ-PRT, ``Rakennustunnus``): ``1``, 8 digits, a check character ``[0-9A-Z]``,
  10 characters; shape only, for the same reason.
- Apartment identifier (``Huoneistotunnus``): 1-20 printable characters.
- Property identifier (``Kiinteistotunnus``): municipality (3) - village or district (3) - block or group (4) -
  unit (4). Accepted as ``091-403-0001-0005``, without leading zeros ``91-403-1-5``, or as the 14-digit
  storage form ``09140300010005``; always sent in the 14-digit form.
- Non-unique search criteria (``HakuXml``): well-formed XML, no DTD, no processing instruction, at most 8 KiB.
  The criteria are parsed once, by a parser that resolves no entity and loads nothing, only to be judged; the
  text is sent as the caller wrote it (escaped, since HakuXml is a string field).

Errors name the rule, never the value (identifiers and criteria are personal data or lead to it).
"""

from __future__ import annotations

import re

from lxml import etree

from xroad_vtj.errors import (
    InvalidBuildingId,
    InvalidCriteria,
    InvalidPropertyId,
    InvalidRequest,
    InvalidSatu,
)

__all__ = [
    "APARTMENT_ID_MAX_LENGTH",
    "CRITERIA_MAX_BYTES",
    "canonical_subject",
    "check_apartment_id",
    "check_criteria_xml",
    "parse_building_id",
    "parse_property_id",
    "parse_satu",
]

CRITERIA_MAX_BYTES = 8 * 1024
APARTMENT_ID_MAX_LENGTH = 20

_SATU = re.compile(r"[0-9]{8}[0-9A-Z]", re.ASCII)
_BUILDING = re.compile(r"1[0-9]{8}[0-9A-Z]", re.ASCII)
_PROPERTY_DASHED = re.compile(r"([0-9]{1,3})-([0-9]{1,3})-([0-9]{1,4})-([0-9]{1,4})", re.ASCII)
_PROPERTY_DIGITS = re.compile(r"[0-9]{14}", re.ASCII)


def parse_satu(value: str) -> str:
    """The SATU as given, once its shape is right; :class:`InvalidSatu` otherwise."""
    if not _SATU.fullmatch(value):
        raise InvalidSatu("satu must be 8 digits and a check character 0-9 or A-Z")
    return value


def parse_building_id(value: str) -> str:
    if not _BUILDING.fullmatch(value):
        raise InvalidBuildingId("building_id must be 1, 8 digits and a check character 0-9 or A-Z")
    return value


def check_apartment_id(value: str) -> str:
    if not 1 <= len(value) <= APARTMENT_ID_MAX_LENGTH or not value.isprintable() or not value.strip():
        raise InvalidRequest(
            f"apartment_id must be 1-{APARTMENT_ID_MAX_LENGTH} printable characters", field="apartment_id"
        )
    return value


def parse_property_id(value: str) -> str:
    """The 14-digit storage form of a property identifier in any of its three written forms."""
    if _PROPERTY_DIGITS.fullmatch(value):
        return value
    match = _PROPERTY_DASHED.fullmatch(value)
    if match is None:
        raise InvalidPropertyId("property_id must be written 091-403-0001-0005, 91-403-1-5 or 09140300010005")
    municipality, village, block, unit = match.groups()
    return f"{municipality:0>3}{village:0>3}{block:0>4}{unit:0>4}"


def canonical_subject(text: str) -> str:
    """The form in which the pipeline sends (and the audit indexes) a subject written as ``text``.

    A valid SATU, building or property identifier comes back in its canonical form (a property identifier in
    its 14-digit storage form, whichever of its written forms is given); a henkilötunnus and anything else
    come back unchanged. Searches and refusal records use it, so that ``91-403-1-5`` finds the query that
    was sent as ``09140300010005``.
    """
    candidate = text.strip().upper()
    for parse in (parse_satu, parse_building_id, parse_property_id):
        try:
            return parse(candidate)
        except InvalidRequest:
            continue
    return text


# Judging only: no entities resolved, nothing loaded, comments kept so that a PI or DTD cannot hide in them.
_CRITERIA_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_pis=False,
    collect_ids=False,
)


def check_criteria_xml(text: str) -> str:
    """The criteria as given, once they are acceptable; :class:`InvalidCriteria` otherwise.

    Linear in the size: one byte-length check, one libxml2 parse (which refuses what is not well-formed), then
    a look at the document's type declaration and at each node for a processing instruction.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCriteria("criteria_xml holds characters that cannot be encoded") from None
    if len(data) > CRITERIA_MAX_BYTES:
        raise InvalidCriteria(f"criteria_xml must be at most {CRITERIA_MAX_BYTES} bytes")
    if data.lstrip().startswith(b"<?xml"):
        # The declaration is allowed (it is not a processing instruction); an encoding in it must not disagree
        # with the UTF-8 these bytes are.
        declaration = data.lstrip().split(b"?>", 1)[0]
        if b"encoding" in declaration and not re.search(
            rb"encoding\s*=\s*[\"']utf-?8[\"']", declaration, re.I
        ):
            raise InvalidCriteria("criteria_xml may only declare UTF-8")
    try:
        root = etree.fromstring(data, _CRITERIA_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        raise InvalidCriteria("criteria_xml is not well-formed XML") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # type: ignore[union-attr]
        raise InvalidCriteria("criteria_xml must not hold a document type declaration")
    node: etree._Element | None = root
    # Siblings of the root (before and after it) and every node below it.
    while node is not None and node.getprevious() is not None:
        node = node.getprevious()
    while node is not None:
        if isinstance(node, etree._ProcessingInstruction):
            raise InvalidCriteria("criteria_xml must not hold processing instructions")
        node = node.getnext()
    if next(root.iter(etree.ProcessingInstruction, etree.Entity), None) is not None:
        raise InvalidCriteria("criteria_xml must not hold processing instructions or entity references")
    return text
