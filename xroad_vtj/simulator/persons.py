"""Synthetic VTJ test persons (temporary identifiers 900-999 only) and the VTJ response bodies built from them.

The shapes follow real FI-TEST responses: the request is echoed with the password blanked, PERUSSANOMA 1 carries
no Turvakielto element and returns empty address data for a person under turvakielto, PERUSSANOMA 3 carries the
flag, not found is a body-level ``faultCode`` 0001, and empty elements appear where data is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

VTJ_WS_NS = "http://xml.vrk.fi/ws/vtj/vtjkysely/1"
VTJ_SCHEMA_NS = "http://xml.vrk.fi/schema/vtjkysely"
VTJ_HT_NS = "http://xml.vrk.fi/schema/vtj/henkilotiedot/1"

PRODUCTS = ("PERUSSANOMA 1", "PERUSSANOMA 2", "PERUSSANOMA 3")


@dataclass(frozen=True, slots=True)
class SimPerson:
    hetu: str
    last_name: str
    first_names: str
    calling_name: str
    street: str = ""
    postal_code: str = ""
    post_office: str = ""
    municipality: tuple[str, str, str] = ("", "", "")  # code, Finnish name, Swedish name
    language: str = "fi"
    turvakielto: bool = False
    death_date: str = ""
    return_code: str = "0000"
    new_hetu: str = ""
    hetu_active: bool = True


_HELSINKI = ("091", "Helsinki", "Helsingfors")
_ESPOO = ("049", "Espoo", "Esbo")

PERSONS: dict[str, SimPerson] = {
    p.hetu: p
    for p in (
        SimPerson(
            "010280-952L",
            "Testinen",
            "Aino Maria",
            "Aino",
            "Testikatu 1 A 2",
            "00100",
            "HELSINKI",
            municipality=_HELSINKI,
        ),
        SimPerson(
            "010594Y9032",
            "Kokeilu",
            "Veikko Ilmari",
            "Veikko",
            "Demotie 5",
            "02100",
            "ESPOO",
            language="sv",
            municipality=_ESPOO,
        ),
        SimPerson(
            "260991-999R",
            "Suojattu",
            "Sanna",
            "Sanna",
            "Salainen polku 3",
            "00200",
            "HELSINKI",
            turvakielto=True,
            municipality=_HELSINKI,
        ),
        SimPerson(
            "020365-999P",
            "Edesmennyt",
            "Eino",
            "Eino",
            death_date="20240115",
            return_code="0007",
            municipality=_HELSINKI,
        ),
        SimPerson(
            "010469-999W",
            "Vanhatunnus",
            "Ville",
            "Ville",
            "Passiivitie 9",
            "00300",
            "HELSINKI",
            return_code="0002",
            new_hetu="010469-998V",
            hetu_active=False,
            municipality=_HELSINKI,
        ),
        SimPerson(
            "010469-998V",
            "Vanhatunnus",
            "Ville",
            "Ville",
            "Passiivitie 9",
            "00300",
            "HELSINKI",
            municipality=_HELSINKI,
        ),
        SimPerson(
            "311211A9527",
            "Lapsinen",
            "Lilja",
            "Lilja",
            "Koulukuja 2",
            "02100",
            "ESPOO",
            return_code="0018",
            municipality=_ESPOO,
        ),
    )
}

RETURN_TEXTS = {
    "0000": "Haku onnistui",
    "0002": "Hakuperusteena käytetty tunnus on passivoitu",
    "0003": "Salasana puuttuu, on virheellinen tai vanhentunut",
    "0004": "Käyttäjätunnus puuttuu, on virheellinen tai vanhentunut",
    "0007": "Henkilö on kuollut",
    "0018": "Henkilö on alle 15-vuotias",
    "-1901": "Tuntematon tuote",
    "-1904": "Loppukäyttäjä puuttuu",
}


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text:
        element.text = text
    return element


def _echo(wrapper: etree._Element, request: dict[str, str]) -> None:
    echo = _el(wrapper, f"{{{VTJ_WS_NS}}}request")
    for name in ("SoSoNimi", "Kayttajatunnus", "Salasana", "Loppukayttaja", "Henkilotunnus"):
        _el(echo, f"{{{VTJ_WS_NS}}}{name}", "" if name == "Salasana" else request.get(name, ""))


def not_found_body(request: dict[str, str]) -> etree._Element:
    wrapper = etree.Element(f"{{{VTJ_WS_NS}}}HenkilonTunnusKyselyResponse", nsmap={None: VTJ_WS_NS})  # type: ignore[dict-item]
    _echo(wrapper, request)
    response = _el(wrapper, f"{{{VTJ_WS_NS}}}response")
    _el(response, f"{{{VTJ_WS_NS}}}faultCode", "0001")
    _el(response, f"{{{VTJ_WS_NS}}}faultString", "Hakuperusteella ei löydy tietoja vtj:stä")
    return wrapper


def person_body(
    request: dict[str, str], person: SimPerson | None, product: str, return_code: str | None = None
) -> etree._Element:
    """A ``HenkilonTunnusKyselyResponse`` with a ``VTJHenkiloVastaussanoma``; no Henkilo when ``person`` is None."""
    wrapper = etree.Element(f"{{{VTJ_WS_NS}}}HenkilonTunnusKyselyResponse", nsmap={None: VTJ_WS_NS})  # type: ignore[dict-item]
    _echo(wrapper, request)
    response = _el(wrapper, f"{{{VTJ_WS_NS}}}response")
    s = VTJ_SCHEMA_NS
    message = etree.SubElement(
        response,
        f"{{{s}}}VTJHenkiloVastaussanoma",
        {
            "sanomatunnus": product,
            "tietojenPoimintaaika": datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
            "versio": "1.0",
        },
        nsmap={None: s, "vtj": VTJ_HT_NS},  # type: ignore[dict-item]
    )
    info = _el(message, f"{{{s}}}Asiakasinfo")
    for name in ("InfoS", "InfoR", "InfoE"):
        _el(info, f"{{{s}}}{name}", datetime.now(UTC).strftime("%d.%m.%Y %H:%M"))
    code = return_code or (person.return_code if person else "0000")
    _el(message, f"{{{s}}}Paluukoodi", RETURN_TEXTS.get(code, ""), koodi=code)
    criteria = _el(message, f"{{{s}}}Hakuperusteet")
    _el(
        criteria,
        f"{{{s}}}Henkilotunnus",
        request.get("Henkilotunnus", ""),
        hakuperustePaluukoodi="2" if code == "0002" else ("1" if person else "0"),
    )
    if person is None:
        return wrapper
    passive = None
    if code == "0002" and person.new_hetu:
        # The passivated identifier answers with the person's new, active one, listed beside the passive one
        # (which tells the client the answer is about the person it asked for).
        passive = person.hetu
        person = PERSONS.get(person.new_hetu, person)
    _henkilo(message, person, product, passive)
    return wrapper


def _henkilo(message: etree._Element, p: SimPerson, product: str, passive_hetu: str | None = None) -> None:
    s = VTJ_SCHEMA_NS
    h = _el(message, f"{{{s}}}Henkilo")
    if passive_hetu is not None:
        _el(h, f"{{{s}}}Henkilotunnus", passive_hetu, voimassaolokoodi="2")
    _el(h, f"{{{s}}}Henkilotunnus", p.hetu, voimassaolokoodi="1" if p.hetu_active else "2")
    _el(_el(h, f"{{{s}}}NykyinenSukunimi"), f"{{{s}}}Sukunimi", p.last_name)
    _el(_el(h, f"{{{s}}}NykyisetEtunimet"), f"{{{s}}}Etunimet", p.first_names)
    _el(_el(h, f"{{{s}}}NykyinenKutsumanimi"), f"{{{s}}}Kutsumanimi", p.calling_name)
    hide = p.turvakielto and product.upper() == "PERUSSANOMA 1"
    address = _el(h, f"{{{s}}}VakinainenKotimainenLahiosoite")
    for name, value in (
        ("LahiosoiteS", p.street),
        ("LahiosoiteR", ""),
        ("Postinumero", p.postal_code),
        ("PostitoimipaikkaS", p.post_office),
        ("PostitoimipaikkaR", ""),
        ("AsuminenAlkupvm", "20200101" if p.street else ""),
        ("AsuminenLoppupvm", ""),
    ):
        _el(address, f"{{{s}}}{name}", "" if hide else value)
    _el(h, f"{{{s}}}VakinainenUlkomainenLahiosoite")
    home = _el(h, f"{{{s}}}Kotikunta")
    for name, value in (
        ("Kuntanumero", p.municipality[0]),
        ("KuntaS", p.municipality[1]),
        ("KuntaR", p.municipality[2]),
        ("KuntasuhdeAlkupvm", "20200101" if p.municipality[0] else ""),
    ):
        _el(home, f"{{{s}}}{name}", "" if hide else value)
    death = _el(h, f"{{{s}}}Kuolintiedot")
    _el(death, f"{{{s}}}Kuollut", "1" if p.death_date else "")
    _el(death, f"{{{s}}}Kuolinpvm", p.death_date)
    language = _el(h, f"{{{s}}}Aidinkieli")
    names = {"fi": ("suomi", "finska"), "sv": ("ruotsi", "svenska")}[p.language]
    _el(language, f"{{{s}}}Kielikoodi", p.language)
    _el(language, f"{{{s}}}KieliS", names[0])
    _el(language, f"{{{s}}}KieliR", names[1])
    _el(language, f"{{{s}}}KieliSelvakielinen")
    if product.upper() != "PERUSSANOMA 1":
        protection = _el(h, f"{{{s}}}Turvakielto")
        _el(protection, f"{{{s}}}TurvakieltoTieto", "1" if p.turvakielto else "0")
        _el(protection, f"{{{s}}}TurvakieltoPaattymispvm")
    sex = _el(h, f"{{{s}}}Sukupuoli")
    number = int(p.hetu[7:10])
    _el(sex, f"{{{s}}}Sukupuolikoodi", "1" if number % 2 else "2")
