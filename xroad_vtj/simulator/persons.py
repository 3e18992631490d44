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

PRODUCTS = (
    "PERUSSANOMA 1",
    "PERUSSANOMA 2",
    "PERUSSANOMA 3",
    "HUOLTAJA-HUOLLETTAVAT",
    "HUOLLETTAVA-HUOLTAJAT",
    "VANHEMPI -LAPSET JA HUOLLETTAVAT",
    "PERUSLT1",
)
# Relation products -> the relation blocks they carry (as in DVV's per-product schemas).
RELATION_PRODUCTS: dict[str, tuple[str, ...]] = {
    "HUOLTAJA-HUOLLETTAVAT": ("Huollettava",),
    "HUOLLETTAVA-HUOLTAJAT": ("Huoltaja",),
    "VANHEMPI -LAPSET JA HUOLLETTAVAT": ("Huollettava", "Lapsi"),
}
# A tailored product: carries blocks no typed field of the service maps (they travel as person.extra).
TAILORED_PRODUCT = "PERUSLT1"


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
    satu: str = ""  # electronic service identifier (SahkoinenAsiointitunnus)
    birth_date: str = ""  # yyyymmdd
    guardians: tuple[str, ...] = ()  # hetus of Huoltaja
    dependants: tuple[str, ...] = ()  # hetus of Huollettava
    children: tuple[str, ...] = ()  # hetus of Lapsi


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
            satu="99999952L",
            birth_date="19800201",
            dependants=("311211A9527",),
            children=("311211A9527",),
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
            birth_date="19940501",
            dependants=("311211A9527",),
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
            satu="99999927Y",
            birth_date="20111231",
            guardians=("010280-952L", "010594Y9032"),
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


ECHOED = (
    "SoSoNimi",
    "Kayttajatunnus",
    "Salasana",
    "Loppukayttaja",
    "Henkilotunnus",
    "SahkoinenAsiointitunnus",
    "Rakennustunnus",
    "Huoneistotunnus",
    "Kiinteistotunnus",
    "HakuXml",
)


def _echo(wrapper: etree._Element, request: dict[str, str]) -> None:
    """The request echo, password blanked: the common fields, then the query's own (Henkilotunnus if none)."""
    echo = _el(wrapper, f"{{{VTJ_WS_NS}}}request")
    own = [name for name in ECHOED[4:] if name in request] or ["Henkilotunnus"]
    for name in (*ECHOED[:4], *own):
        _el(echo, f"{{{VTJ_WS_NS}}}{name}", "" if name == "Salasana" else request.get(name, ""))


def response_wrapper(operation: str, request: dict[str, str]) -> tuple[etree._Element, etree._Element]:
    """``<operation>Response`` with the request echo, and its empty ``response`` element."""
    wrapper = etree.Element(f"{{{VTJ_WS_NS}}}{operation}Response", nsmap={None: VTJ_WS_NS})  # type: ignore[dict-item]
    _echo(wrapper, request)
    return wrapper, _el(wrapper, f"{{{VTJ_WS_NS}}}response")


def person_by_satu(satu: str) -> SimPerson | None:
    return next((p for p in PERSONS.values() if p.satu and p.satu == satu), None)


def not_found_body(request: dict[str, str]) -> etree._Element:
    wrapper, response = response_wrapper("HenkilonTunnusKysely", request)
    _el(response, f"{{{VTJ_WS_NS}}}faultCode", "0001")
    _el(response, f"{{{VTJ_WS_NS}}}faultString", "Hakuperusteella ei löydy tietoja vtj:stä")
    return wrapper


def person_body(
    request: dict[str, str], person: SimPerson | None, product: str, return_code: str | None = None
) -> etree._Element:
    """A ``HenkilonTunnusKyselyResponse`` with a ``VTJHenkiloVastaussanoma``; no Henkilo when ``person`` is None."""
    wrapper, response = response_wrapper("HenkilonTunnusKysely", request)
    person_message(response, request, person, product, return_code)
    return wrapper


def person_message(
    parent: etree._Element,
    request: dict[str, str],
    persons: SimPerson | list[SimPerson] | None,
    product: str,
    return_code: str | None = None,
) -> etree._Element:
    """A ``VTJHenkiloVastaussanoma`` under ``parent``: one person (a query), a list (a search) or none."""
    person = persons if isinstance(persons, SimPerson) else None
    many = persons if isinstance(persons, list) else None
    s = VTJ_SCHEMA_NS
    message = etree.SubElement(
        parent,
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
    code = return_code or (person.return_code if person else ("0000" if many else "0001"))
    _el(message, f"{{{s}}}Paluukoodi", RETURN_TEXTS.get(code, ""), koodi=code)
    criteria = _el(message, f"{{{s}}}Hakuperusteet")
    key = "SahkoinenAsiointitunnus" if "SahkoinenAsiointitunnus" in request else "Henkilotunnus"
    if many is None:
        _el(
            criteria,
            f"{{{s}}}{key}",
            request.get(key, ""),
            hakuperustePaluukoodi="2" if code == "0002" else ("1" if person else "0"),
        )
    if many is not None:
        for found in many:
            _henkilo(message, found, product)
        return message
    if person is None:
        return message
    passive = None
    if code == "0002" and person.new_hetu:
        # The passivated identifier answers with the person's new, active one, listed beside the passive one
        # (which tells the client the answer is about the person it asked for).
        passive = person.hetu
        person = PERSONS.get(person.new_hetu, person)
    _henkilo(message, person, product, passive)
    return message


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
    if product.upper() == TAILORED_PRODUCT:
        # Blocks of a tailored product that no typed field maps: the dwelling and a foreign postal address.
        _el(
            _el(h, f"{{{s}}}VakinainenAsuinpaikka"),
            f"{{{s}}}Asuinpaikantunnus",
            "90000130991H045" if p.street else "",
        )
        foreign = _el(h, f"{{{s}}}UlkomainenPostiosoite")
        _el(foreign, f"{{{s}}}UlkomainenLahiosoite")
        _el(foreign, f"{{{s}}}Valtiokoodi3")
        _el(h, f"{{{s}}}Edunvalvonta", "0", tyyppi="ei")
    for block in RELATION_PRODUCTS.get(product.upper(), ()):
        hetus = {"Huoltaja": p.guardians, "Huollettava": p.dependants, "Lapsi": p.children}[block]
        for hetu in hetus:
            relative = PERSONS[hetu]
            r = _el(h, f"{{{s}}}{block}")
            _el(r, f"{{{s}}}Henkilotunnus", relative.hetu)
            _el(r, f"{{{s}}}Syntymaaika", relative.birth_date)
            _el(_el(r, f"{{{s}}}NykyinenSukunimi"), f"{{{s}}}Sukunimi", relative.last_name)
            _el(_el(r, f"{{{s}}}NykyisetEtunimet"), f"{{{s}}}Etunimet", relative.first_names)
