"""Synthetic VTJ buildings, properties, identification searches and product schemas for the simulator.

DVV publishes no schema for these answers here (``response`` is ``xsd:any``; the product decides), so the
shapes below are this project's own, built like the person answers: an answer document with ``sanomatunnus``,
a ``Paluukoodi``, the criteria, then the objects; "not found" as a body ``faultCode`` 0001.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from xroad_vtj.simulator.persons import (
    PERSONS,
    RETURN_TEXTS,
    VTJ_SCHEMA_NS,
    VTJ_WS_NS,
    SimPerson,
    person_message,
    response_wrapper,
)

XS = "http://www.w3.org/2001/XMLSchema"


@dataclass(frozen=True, slots=True)
class SimBuilding:
    building_id: str  # permanent building identifier (VTJ-PRT)
    street: str
    postal_code: str
    municipality: str  # three-digit code
    purpose_code: str  # käyttötarkoitus
    completed: str  # yyyymmdd
    apartments: tuple[str, ...] = ()
    property_id: str = ""


@dataclass(frozen=True, slots=True)
class SimProperty:
    property_id: str  # 14-digit form
    name: str
    municipality: str
    area_m2: str
    buildings: tuple[str, ...] = ()


BUILDINGS: dict[str, SimBuilding] = {
    b.building_id: b
    for b in (
        SimBuilding(
            "100012345A", "Testikatu 1", "00100", "091", "032", "19650101", ("A 1", "A 2"), "09140300010005"
        ),
        SimBuilding("100098765K", "Demotie 5", "02100", "049", "011", "19980615", (), "04940100020003"),
    )
}

PROPERTIES: dict[str, SimProperty] = {
    p.property_id: p
    for p in (
        SimProperty("09140300010005", "Testitontti", "091", "1250", ("100012345A",)),
        SimProperty("04940100020003", "Kokeilula", "049", "980", ("100098765K",)),
    )
}


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{VTJ_SCHEMA_NS}}}{tag}", attrs)
    if text:
        element.text = text
    return element


def _document(parent: etree._Element, name: str, product: str, code: str) -> etree._Element:
    document = etree.SubElement(
        parent,
        f"{{{VTJ_SCHEMA_NS}}}{name}",
        {"sanomatunnus": product, "tietojenPoimintaaika": datetime.now(UTC).strftime("%Y%m%d%H%M%S")},
        nsmap={None: VTJ_SCHEMA_NS},  # type: ignore[dict-item]
    )
    _el(document, "Paluukoodi", RETURN_TEXTS.get(code, ""), koodi=code)
    return document


def not_found(operation: str, request: dict[str, str]) -> etree._Element:
    wrapper, response = response_wrapper(operation, request)
    etree.SubElement(response, f"{{{VTJ_WS_NS}}}faultCode").text = "0001"
    etree.SubElement(
        response, f"{{{VTJ_WS_NS}}}faultString"
    ).text = "Hakuperusteella ei löydy tietoja vtj:stä"
    return wrapper


def _building(parent: etree._Element, b: SimBuilding, apartment: str | None) -> None:
    r = _el(parent, "Rakennus")
    _el(r, "Rakennustunnus", b.building_id)
    _el(r, "Kiinteistotunnus", b.property_id)
    address = _el(r, "Osoite")
    _el(address, "Lahiosoite", b.street)
    _el(address, "Postinumero", b.postal_code)
    _el(r, "Kuntanumero", b.municipality)
    _el(r, "Kayttotarkoitus", b.purpose_code)
    _el(r, "Valmistumispvm", b.completed)
    for name in b.apartments if apartment is None else (apartment,):
        _el(_el(r, "Huoneisto"), "Huoneistotunnus", name)


def building_answer(request: dict[str, str], product: str, code: str | None = None) -> etree._Element:
    operation = "RakennuksenTunnusKysely"
    building = BUILDINGS.get(request.get("Rakennustunnus", ""))
    apartment = request.get("Huoneistotunnus") or None
    if code is None and (
        building is None or (apartment is not None and apartment not in building.apartments)
    ):
        return not_found(operation, request)
    wrapper, response = response_wrapper(operation, request)
    document = _document(response, "VTJRakennusVastaussanoma", product, code or "0000")
    if building is not None and code is None:
        _building(document, building, apartment)
    return wrapper


def _property(parent: etree._Element, p: SimProperty) -> None:
    r = _el(parent, "Kiinteisto")
    _el(r, "Kiinteistotunnus", p.property_id)
    _el(r, "Nimi", p.name)
    _el(r, "Kuntanumero", p.municipality)
    _el(r, "PintaAla", p.area_m2, yksikko="m2")
    for building_id in p.buildings:
        _el(r, "Rakennustunnus", building_id)


def property_answer(request: dict[str, str], product: str, code: str | None = None) -> etree._Element:
    operation = "KiinteistonTunnusKysely"
    found = PROPERTIES.get(request.get("Kiinteistotunnus", ""))
    if found is None and code is None:
        return not_found(operation, request)
    wrapper, response = response_wrapper(operation, request)
    document = _document(response, "VTJKiinteistoVastaussanoma", product, code or "0000")
    if found is not None and code is None:
        _property(document, found)
    return wrapper


_CRITERIA_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _criteria(text: str) -> dict[str, str]:
    """The leaf texts of the criteria by local name (the format is DVV's; the simulator reads any leaves)."""
    try:
        root = etree.fromstring(text.encode("utf-8"), _CRITERIA_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return {}
    out: dict[str, str] = {}
    for element in root.iter(etree.Element):
        if not len(element) and element.text and element.text.strip():
            out.setdefault(etree.QName(element).localname, element.text.strip().casefold())
    return out


def _person_matches(p: SimPerson, c: dict[str, str]) -> bool:
    checks = {
        "Sukunimi": p.last_name.casefold(),
        "Etunimet": p.first_names.casefold(),
        "Syntymaaika": p.birth_date,
        "Postinumero": p.postal_code,
    }
    wanted = {k: v for k, v in c.items() if k in checks}
    if not wanted:
        return False
    return all(checks[k] == v or (k == "Etunimet" and v in checks[k].split()) for k, v in wanted.items())


def search_answer(
    operation: str, request: dict[str, str], product: str, code: str | None = None
) -> etree._Element:
    criteria = _criteria(request.get("HakuXml", ""))
    if operation == "HenkilonTunnistusKysely":
        persons = [p for p in PERSONS.values() if p.hetu_active and _person_matches(p, criteria)]
        if not persons and code is None:
            return not_found(operation, request)
        wrapper, response = response_wrapper(operation, request)
        person_message(response, request, [] if code else persons, product, code or "0000")
        return wrapper
    if operation == "RakennuksenTunnistusKysely":
        buildings = [
            b
            for b in BUILDINGS.values()
            if criteria
            and all(
                {
                    "Lahiosoite": b.street.casefold(),
                    "Postinumero": b.postal_code,
                    "Kuntanumero": b.municipality,
                }.get(k, "\0")
                == v
                for k, v in criteria.items()
            )
        ]
        if not buildings and code is None:
            return not_found(operation, request)
        wrapper, response = response_wrapper(operation, request)
        document = _document(response, "VTJRakennusVastaussanoma", product, code or "0000")
        for b in [] if code else buildings:
            _building(document, b, None)
        return wrapper
    properties = [
        p
        for p in PROPERTIES.values()
        if criteria
        and all(
            {"Nimi": p.name.casefold(), "Kuntanumero": p.municipality}.get(k, "\0") == v
            for k, v in criteria.items()
        )
    ]
    if not properties and code is None:
        return not_found(operation, request)
    wrapper, response = response_wrapper(operation, request)
    document = _document(response, "VTJKiinteistoVastaussanoma", product, code or "0000")
    for p in [] if code else properties:
        _property(document, p)
    return wrapper


def schema_answer(product: str, kind: str, known: bool) -> etree._Element:
    """``HaeTuotteenSkeemaResponse``: a small XML Schema naming the product, or faultCode -1901 when unknown."""
    wrapper = etree.Element(f"{{{VTJ_WS_NS}}}HaeTuotteenSkeemaResponse", nsmap={None: VTJ_WS_NS})  # type: ignore[dict-item]
    echo = etree.SubElement(wrapper, f"{{{VTJ_WS_NS}}}reguest")  # sic: DVV's schema spells it so
    etree.SubElement(echo, f"{{{VTJ_WS_NS}}}SoSoNimi").text = product
    etree.SubElement(echo, f"{{{VTJ_WS_NS}}}Laji").text = kind
    response = etree.SubElement(wrapper, f"{{{VTJ_WS_NS}}}response")
    if not known:
        etree.SubElement(response, f"{{{VTJ_WS_NS}}}faultCode").text = "-1901"
        etree.SubElement(response, f"{{{VTJ_WS_NS}}}faultString").text = "Tuntematon tuote"
        return wrapper
    schema = etree.SubElement(
        response,
        f"{{{XS}}}schema",
        {"targetNamespace": VTJ_SCHEMA_NS, "elementFormDefault": "qualified", "version": kind},
        nsmap={"xs": XS},
    )
    root = etree.SubElement(schema, f"{{{XS}}}element", {"name": "VTJHenkiloVastaussanoma"})
    etree.SubElement(
        etree.SubElement(root, f"{{{XS}}}annotation"), f"{{{XS}}}documentation"
    ).text = f"{product}, laji {kind}"
    return wrapper
