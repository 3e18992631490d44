"""Lenient parsing of a ``HenkilonTunnusKyselyResponse`` into an outcome and a :class:`Person`.

Real VTJ responses do not follow their product schemas closely, so this parser reads by *local name* and
forgives: namespaces and element order are ignored, unknown elements are skipped, text is stripped and an
empty or whitespace-only value counts as absent. It walks the tree once, top-down, touching only the direct
children of the handful of elements it knows.

Outcome, in this order:

1. ``response/faultCode`` non-empty: ``0001`` or ``0006`` is ``not_found``, anything else
   ``upstream_rejected``; no person is returned even if the response also carries one (a contradictory answer
   is not used as data). ``fault_code``/``fault_string`` keep the values.
2. ``VTJHenkiloVastaussanoma/Paluukoodi@koodi``: looked up in :mod:`xroad_vtj.vtj.codes` (unknown codes are
   ``upstream_rejected``). Two ``Paluukoodi`` with different codes are an ``InvalidUpstreamResponse``.
3. No ``Paluukoodi`` (seen in hand-made stubs): ``Hakuperusteet/Henkilotunnus@hakuperustePaluukoodi`` decides
   (1 found, 0 not found, 2 passivated); failing that a ``Henkilo`` with a henkilötunnus means found, and
   anything else ``upstream_rejected``.

:class:`~xroad_vtj.errors.InvalidUpstreamResponse` is raised only when the element is not a
``HenkilonTunnusKyselyResponse``, has no ``response`` child, or its ``response`` holds neither a
``VTJHenkiloVastaussanoma`` nor a non-empty ``faultCode``.

The person (``Henkilo``) is returned for ``found``, ``deceased`` and ``passivated`` only, and only when it
holds at least one non-empty value. Notes on the fields:

- ``hetu`` is ``Henkilo/Henkilotunnus`` (the active one when several are given), never the request echo;
  ``hetu_active`` is its ``voimassaolokoodi`` (1 active, 2 passive, otherwise unknown).
- ``non_disclosure`` (turvakielto) is read fail-closed: True when any ``TurvakieltoTieto`` anywhere in
  ``Henkilo`` says ``1`` or cannot be read as exactly ``0``, ``1`` or empty (a child element, other text);
  False when a ``Turvakielto`` element is present and every flag is ``0`` or empty; None when the product has
  no such element (PERUSSANOMA 1): None does not mean "no restriction".
- ``deceased`` is True for return code 0007, ``Kuolintiedot/Kuollut`` = 1, or a date of being declared dead;
  ``death_date`` is ``Kuolinpvm``, else the declared-dead date.
- ``temporary_address`` and ``postal_address`` are the first non-empty ``TilapainenKotimainenLahiosoite`` /
  ``KotimainenPostiosoite``; ``foreign_address`` is ``VakinainenUlkomainenLahiosoite``, whose place fields
  hold "place, country": the part before the last comma is ``place``, the part after it ``country_fi`` /
  ``country_sv``. Foreign postal and temporary foreign addresses are not mapped (their category is listed).
- Dates ``yyyymmdd`` become ISO ``yyyy-mm-dd``; VTJ's partial dates keep their precision (``yyyymm00`` becomes
  ``yyyy-mm``, ``yyyy0000`` becomes ``yyyy``); anything else becomes None. ``extracted_at``
  (``tietojenPoimintaaika``) becomes ``yyyy-mm-ddThh:mm:ss``, Finnish local time as VTJ states it, no offset.

For a passivated henkilötunnus (0002) ``new_active_hetu`` is a valid ``Henkilo/Henkilotunnus`` with
``voimassaolokoodi="1"`` that differs from the queried one (``Hakuperusteet/Henkilotunnus``, else the request
echo). VTJ documents no other place for it; when there is none the caller has nothing to re-query with.

``data_categories`` says which kinds of personal data came back, for the audit log, in the order of
:data:`DATA_CATEGORIES`. A category is listed when the person carried at least one non-empty value in it,
except ``non_disclosure``, listed whenever a ``Turvakielto`` element was present (its presence is the
information). Elements of the person that fit no category are listed as ``other``.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from xroad_vtj.errors import InvalidUpstreamResponse
from xroad_vtj.vtj.codes import BODY_FAULT_NOT_FOUND, Outcome, normalise_code, outcome_for
from xroad_vtj.vtj.hetu import is_valid_hetu

__all__ = [
    "DATA_CATEGORIES",
    "Address",
    "ForeignAddress",
    "Language",
    "Municipality",
    "Outcome",
    "Person",
    "VtjResult",
    "henkilo_protected",
    "parse_henkilon_tunnus_kysely_response",
]

DATA_CATEGORIES: tuple[str, ...] = (
    "identity",  # Henkilotunnus, electronic identifier, date of birth, foreign personal number
    "name",  # current and former names
    "sex",
    "address",  # any domestic or foreign, permanent, temporary or postal address; dwelling identifier
    "home_municipality",
    "death",
    "native_language",
    "non_disclosure",  # Turvakielto
    "citizenship",
    "relations",  # guardians, dependants, children, parents, spouse (each with their own identifiers)
    "guardianship",  # Edunvalvonta, Edunvalvontavaltuutus
    "residents",  # number and identifiers of people living in the same dwelling
    "other",
)
_CATEGORY_ORDER = {name: i for i, name in enumerate(DATA_CATEGORIES)}

_CATEGORY_BY_ELEMENT = {
    "Henkilotunnus": "identity",
    "SahkoinenAsiointitunnus": "identity",
    "Syntymaaika": "identity",
    "UlkomainenHenkilonumero": "identity",
    "NykyinenSukunimi": "name",
    "NykyisetEtunimet": "name",
    "NykyinenKutsumanimi": "name",
    "EntinenNimi": "name",
    "Sukupuoli": "sex",
    "VakinainenKotimainenLahiosoite": "address",
    "VakinainenUlkomainenLahiosoite": "address",
    "TilapainenKotimainenLahiosoite": "address",
    "TilapainenUlkomainenLahiosoite": "address",
    "KotimainenPostiosoite": "address",
    "UlkomainenPostiosoite": "address",
    "VakinainenAsuinpaikka": "address",
    "VakinainenKotimainenOsoite": "address",
    "VakinainenUlkomainenOsoite": "address",
    "TilapainenKotimainenOsoite": "address",
    "TilapainenUlkomainenOsoite": "address",
    "Kotikunta": "home_municipality",
    "Kuolintiedot": "death",
    "Kuolleeksijulistamistiedot": "death",
    "Aidinkieli": "native_language",
    "Turvakielto": "non_disclosure",
    "SuomenKansalaisuusTietokoodi": "citizenship",
    "Edunvalvonta": "guardianship",
    "Edunvalvontavaltuutus": "guardianship",
    "AsukasLkm": "residents",
    "AsukkaatAlle18v": "residents",
    "AsukasAlle18v": "residents",
}
_CATEGORY_BY_PREFIX = (
    ("Kansalaisuus", "citizenship"),
    ("Huoltaja", "relations"),
    ("Huollettava", "relations"),
    ("Huolto", "relations"),
    ("Lapsi", "relations"),
    ("Vanhempi", "relations"),
    ("Puoliso", "relations"),
    ("Aviopuoliso", "relations"),
)

_PERSON_OUTCOMES = frozenset({Outcome.FOUND, Outcome.DECEASED, Outcome.PASSIVATED})
_HAKUPERUSTE_OUTCOMES = {"1": Outcome.FOUND, "0": Outcome.NOT_FOUND, "2": Outcome.PASSIVATED}
_SEX = {"1": "male", "2": "female"}
_DATE = re.compile(r"[0-9]{8}")
_TIMESTAMP = re.compile(r"[0-9]{14}")


def _redacted_repr(self: object) -> str:
    # These values are personal data; keep them out of tracebacks and debug logs.
    return f"{type(self).__name__}(<redacted>)"


@dataclass(frozen=True, slots=True, repr=False)
class Address:
    """A domestic address: street and post office in Finnish and Swedish, validity as ISO dates."""

    street_fi: str | None
    street_sv: str | None
    postal_code: str | None
    post_office_fi: str | None
    post_office_sv: str | None
    start_date: str | None
    end_date: str | None

    __repr__ = _redacted_repr

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)


@dataclass(frozen=True, slots=True, repr=False)
class ForeignAddress:
    """A permanent address abroad."""

    street: str | None
    place: str | None
    country_code: str | None  # ISO 3166-1 numeric, three digits
    country_fi: str | None
    country_sv: str | None
    start_date: str | None
    end_date: str | None

    __repr__ = _redacted_repr

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)


@dataclass(frozen=True, slots=True, repr=False)
class Municipality:
    """Home municipality (kotikunta): three-digit code and names."""

    code: str | None
    name_fi: str | None
    name_sv: str | None

    __repr__ = _redacted_repr

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)


@dataclass(frozen=True, slots=True)
class Language:
    """Native language (äidinkieli): ISO 639-1 code as VTJ gives it, and names."""

    code: str | None
    name_fi: str | None
    name_sv: str | None

    def to_json(self) -> dict[str, Any]:
        return _fields_json(self)


@dataclass(frozen=True, slots=True, repr=False)
class Person:
    """The person's own data from ``Henkilo``; which fields are filled depends on the product."""

    hetu: str | None
    hetu_active: bool | None
    last_name: str | None
    first_names: str | None
    calling_name: str | None
    sex: str | None  # "male" / "female" as VTJ records it, None when not given
    non_disclosure: bool | None  # turvakielto; None when the product carries no Turvakielto element
    deceased: bool
    death_date: str | None
    home_municipality: Municipality | None
    permanent_address: Address | None
    temporary_address: Address | None
    postal_address: Address | None
    foreign_address: ForeignAddress | None
    native_language: Language | None

    __repr__ = _redacted_repr

    def to_json(self) -> dict[str, Any]:
        """Exactly the fields above; nested values as objects, missing ones as null."""
        return _fields_json(self)


@dataclass(frozen=True, slots=True)
class VtjResult:
    """What a HenkilonTunnusKysely came to."""

    outcome: Outcome
    return_code: str | None  # Paluukoodi@koodi, normalised (see codes.normalise_code)
    person: Person | None
    new_active_hetu: str | None = field(repr=False)
    data_categories: tuple[str, ...]
    fault_code: str | None  # response/faultCode
    fault_string: str | None  # response/faultString
    product: str | None  # VTJHenkiloVastaussanoma@sanomatunnus
    extracted_at: str | None  # VTJHenkiloVastaussanoma@tietojenPoimintaaika, ISO, Finnish local time
    # Every Henkilo/Henkilotunnus of a returned person, so the pipeline can check whom the answer is about.
    person_hetus: tuple[str, ...] = field(default=(), repr=False)
    # The returned person's other children of Henkilo (relations, blocks Person does not map), in document order,
    # collected by the same pass that read the person, so that :mod:`xroad_vtj.vtj.relations` need not walk the
    # answer again.
    other_blocks: tuple[etree._Element, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "return_code": self.return_code,
            "person": None if self.person is None else self.person.to_json(),
            "new_active_hetu": self.new_active_hetu,
            "data_categories": list(self.data_categories),
            "fault_code": self.fault_code,
            "fault_string": self.fault_string,
            "product": self.product,
            "extracted_at": self.extracted_at,
        }


def _fields_json(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        out[name] = value.to_json() if hasattr(value, "to_json") else value
    return out


# --- small readers -----------------------------------------------------------------------------------------


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: str) -> str:
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        if len(_LOCAL_NAMES) < 1024:  # bounded: tags come from the network
            _LOCAL_NAMES[tag] = name
    return name


def _text(element: etree._Element) -> str | None:
    text = element.text
    if len(element):
        # A comment inside the text splits it; the text serialisation joins the pieces and skips the comment.
        text = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    if text is None:
        return None
    return text.strip() or None


def merged_return_code(current: str | None, paluukoodi: etree._Element) -> str | None:
    """The answer's return code once one more ``Paluukoodi`` is read: its ``koodi``, normalised.

    Every answer reader uses it: a second ``Paluukoodi`` with a different code (or none beside a code) makes
    the answer contradictory, and a contradictory answer is not used as data (:class:`InvalidUpstreamResponse`).
    """
    code = _attr(paluukoodi, "koodi")
    code = normalise_code(code) if code else None
    if current is not None and code != current:
        raise InvalidUpstreamResponse("the VTJ answer holds contradicting return codes")
    return code


def _attr(element: etree._Element, name: str) -> str | None:
    value = element.get(name)
    if value is None:
        return None
    return value.strip() or None


def _child_text(element: etree._Element, name: str) -> str | None:
    """The first non-empty text of a child element named ``name`` (the others' texts are not read)."""
    for child in element.iterchildren(etree.Element):
        if _local(child.tag) == name:
            text = _text(child)
            if text is not None:
                return text
    return None


def _date(value: str | None) -> str | None:
    if value is None or not _DATE.fullmatch(value):
        return None
    year, month, day = value[0:4], value[4:6], value[6:8]
    if month == "00":
        return year if day == "00" else None
    if day == "00":
        return f"{year}-{month}" if 1 <= int(month) <= 12 else None
    try:
        return datetime.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _timestamp(value: str | None) -> str | None:
    if value is None or not _TIMESTAMP.fullmatch(value):
        return None
    return _iso_timestamp(value)


# Answers given in the same second carry the same extraction time: the last few (14 digits each) are remembered
# instead of being validated and formatted again for every answer.
@functools.lru_cache(maxsize=64)
def _iso_timestamp(digits: str) -> str | None:
    try:
        moment = datetime.datetime(
            int(digits[0:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            int(digits[12:14]),
        )
    except ValueError:
        return None
    return moment.isoformat()


def _split_place(value: str | None) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    place, comma, country = value.rpartition(",")
    if not comma:
        return value, None
    return place.strip() or None, country.strip() or None


def _category(name: str) -> str:
    category = _CATEGORY_BY_ELEMENT.get(name)
    if category is not None:
        return category
    for prefix, prefixed in _CATEGORY_BY_PREFIX:
        if name.startswith(prefix):
            return prefixed
    return "other"


# --- the person --------------------------------------------------------------------------------------------


def _address(f: dict[str, str] | None, street: str, start: str, end: str) -> Address | None:
    if not f:
        return None
    return Address(
        street_fi=f.get(street + "S"),
        street_sv=f.get(street + "R"),
        postal_code=f.get("Postinumero"),
        post_office_fi=f.get("PostitoimipaikkaS"),
        post_office_sv=f.get("PostitoimipaikkaR"),
        start_date=_date(f.get(start)),
        end_date=_date(f.get(end)),
    )


def _foreign_address(f: dict[str, str] | None) -> ForeignAddress | None:
    if not f:
        return None
    place_fi, country_fi = _split_place(f.get("UlkomainenPaikkakuntaJaValtioS"))
    place_sv, country_sv = _split_place(f.get("UlkomainenPaikkakuntaJaValtioR"))
    place = place_fi or place_sv or f.get("UlkomainenPaikkakuntaJaValtioSelvakielinen")
    return ForeignAddress(
        street=f.get("UlkomainenLahiosoite"),
        place=place,
        country_code=f.get("Valtiokoodi3"),
        country_fi=country_fi,
        country_sv=country_sv,
        start_date=_date(f.get("AsuminenAlkupvm")),
        end_date=_date(f.get("AsuminenLoppupvm")),
    )


_MAPPED_BLOCKS = frozenset(
    {
        "NykyinenSukunimi",
        "NykyisetEtunimet",
        "NykyinenKutsumanimi",
        "VakinainenKotimainenLahiosoite",
        "TilapainenKotimainenLahiosoite",
        "KotimainenPostiosoite",
        "VakinainenUlkomainenLahiosoite",
        "Kotikunta",
        "Kuolintiedot",
        "Kuolleeksijulistamistiedot",
        "Aidinkieli",
        "Turvakielto",
        "Sukupuoli",
    }
)
_NO_FIELDS: dict[str, str] = {}
_VALIDITY = {"1": True, "2": False}


@dataclass(slots=True)
class _Henkilo:
    """What one pass over ``Henkilo`` collected."""

    hetus: list[tuple[str, str | None]]  # (Henkilotunnus, voimassaolokoodi) in document order
    blocks: dict[str, dict[str, str]]  # mapped block -> its non-empty fields (first non-empty instance)
    categories: set[str]
    has_turvakielto: bool
    protected: bool  # some TurvakieltoTieto says 1, or cannot be read as exactly 0, 1 or empty
    others: list[etree._Element]  # children neither Henkilotunnus nor a mapped block, in document order


def _read_henkilo(henkilo: etree._Element) -> _Henkilo:
    """One pass over ``Henkilo``: its direct children, and the fields of the blocks a person is built from.

    Blocks the person is not built from (relations, guardianship, unknown ones) are only checked for any
    non-empty text, with one C-level text serialisation each, and only while their category is still unseen.
    """
    hetus: list[tuple[str, str | None]] = []
    blocks: dict[str, dict[str, str]] = {}
    categories: set[str] = set()
    has_turvakielto = False
    others: list[etree._Element] = []
    for child in henkilo.iterchildren(etree.Element):
        name = _local(child.tag)
        if name == "Henkilotunnus":
            value = _text(child)
            if value is not None:
                hetus.append((value, _attr(child, "voimassaolokoodi")))
                categories.add("identity")
            continue
        if name not in _MAPPED_BLOCKS:
            others.append(child)
        if name == "Turvakielto":
            has_turvakielto = True  # present, even empty: the product carries the flag
        if not len(child):
            text = child.text
            if text and not text.isspace():
                categories.add(_category(name))
            continue
        if name in _MAPPED_BLOCKS:
            if name in blocks:  # the first non-empty instance of a block wins
                continue
            fields: dict[str, str] = {}
            for leaf in child.iterchildren(etree.Element):
                text = leaf.text
                if text and not text.isspace():
                    fields.setdefault(_local(leaf.tag), text.strip())
            if fields:
                blocks[name] = fields
                categories.add(_category(name))
            continue
        category = _category(name)
        if category not in categories and _has_text(child):
            categories.add(category)
    protected, flags = _turvakielto(henkilo)
    if has_turvakielto or flags:
        has_turvakielto = True
        categories.add("non_disclosure")
    return _Henkilo(hetus, blocks, categories, has_turvakielto, protected, others)


_TURVAKIELTO_OFF = frozenset({"0", ""})


def _turvakielto(henkilo: etree._Element) -> tuple[bool, bool]:
    """(protected, any flag seen), read fail-closed from every ``TurvakieltoTieto`` anywhere in ``Henkilo``.

    One that says 1, or whose whole text (child elements' text included) is not exactly 0, 1 or empty, means
    protected: a second ``Turvakielto`` block or a child element must never turn a restriction off.
    """
    protected = seen = False
    for flag in henkilo.iter("{*}TurvakieltoTieto"):
        seen = True
        text = etree.tostring(flag, method="text", encoding="unicode", with_tail=False).strip()
        if text not in _TURVAKIELTO_OFF:
            protected = True
    return protected, seen


def henkilo_protected(henkilo: etree._Element) -> bool:
    """Is this ``Henkilo`` under turvakielto, read fail-closed (the rule of :func:`_turvakielto`)? For every
    answer that carries persons, not only the person query's."""
    return _turvakielto(henkilo)[0]


def _has_text(element: etree._Element) -> bool:
    # One C-level text serialisation is several times faster than walking itertext() in Python.
    text = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    return bool(text) and not text.isspace()


def _person(h: _Henkilo, deceased_by_code: bool) -> Person | None:
    if not h.categories:
        return None
    hetu, active = None, None
    for value, validity in h.hetus:
        if hetu is None or (validity == "1" and active is not True):
            hetu, active = value, _VALIDITY.get(validity or "")
    b = h.blocks.get
    death = b("Kuolintiedot", _NO_FIELDS)
    declared_dead = _date(b("Kuolleeksijulistamistiedot", _NO_FIELDS).get("Kuolleeksijulistamispvm"))
    death_date = _date(death.get("Kuolinpvm")) or declared_dead
    municipality = b("Kotikunta")
    language = b("Aidinkieli")
    return Person(
        hetu=hetu,
        hetu_active=active,
        last_name=b("NykyinenSukunimi", _NO_FIELDS).get("Sukunimi"),
        first_names=b("NykyisetEtunimet", _NO_FIELDS).get("Etunimet"),
        calling_name=b("NykyinenKutsumanimi", _NO_FIELDS).get("Kutsumanimi"),
        sex=_SEX.get(b("Sukupuoli", _NO_FIELDS).get("Sukupuolikoodi", "")),
        non_disclosure=h.protected if h.has_turvakielto else None,
        deceased=deceased_by_code or death.get("Kuollut") == "1" or declared_dead is not None,
        death_date=death_date,
        home_municipality=(
            None
            if municipality is None
            else Municipality(
                municipality.get("Kuntanumero"), municipality.get("KuntaS"), municipality.get("KuntaR")
            )
        ),
        permanent_address=_address(
            b("VakinainenKotimainenLahiosoite"), "Lahiosoite", "AsuminenAlkupvm", "AsuminenLoppupvm"
        ),
        temporary_address=_address(
            b("TilapainenKotimainenLahiosoite"), "Lahiosoite", "AsuminenAlkupvm", "AsuminenLoppupvm"
        ),
        postal_address=_address(
            b("KotimainenPostiosoite"), "Postiosoite", "PostiosoiteAlkupvm", "PostiosoiteLoppupvm"
        ),
        foreign_address=_foreign_address(b("VakinainenUlkomainenLahiosoite")),
        native_language=(
            None
            if language is None
            else Language(language.get("Kielikoodi"), language.get("KieliS"), language.get("KieliR"))
        ),
    )


def _new_active_hetu(h: _Henkilo, queried: str | None) -> str | None:
    for value, validity in h.hetus:
        if validity == "1" and value != queried and is_valid_hetu(value):
            return value
    return None


# --- the response ------------------------------------------------------------------------------------------


def parse_henkilon_tunnus_kysely_response(wrapper: etree._Element) -> VtjResult:
    """Read a ``HenkilonTunnusKyselyResponse`` element (already taken out of the SOAP body)."""
    if not isinstance(wrapper.tag, str) or _local(wrapper.tag) != "HenkilonTunnusKyselyResponse":
        raise InvalidUpstreamResponse("the SOAP body does not hold a HenkilonTunnusKyselyResponse")

    response: etree._Element | None = None
    echo_hetu: str | None = None
    for child in wrapper.iterchildren(etree.Element):
        name = _local(child.tag)
        if name == "response" and response is None:
            response = child
        elif name == "request":
            echo_hetu = _child_text(child, "Henkilotunnus")
    if response is None:
        raise InvalidUpstreamResponse("the VTJ answer has no response element")

    sanoma: etree._Element | None = None
    fault_code: str | None = None
    fault_string: str | None = None
    for child in response.iterchildren(etree.Element):
        name = _local(child.tag)
        if name == "VTJHenkiloVastaussanoma":
            sanoma = sanoma if sanoma is not None else child
        elif name == "faultCode":
            fault_code = fault_code or _text(child)
        elif name == "faultString":
            fault_string = fault_string or _text(child)
    if sanoma is None and fault_code is None:
        raise InvalidUpstreamResponse(
            "the VTJ answer holds neither a VTJHenkiloVastaussanoma nor a faultCode"
        )

    return_code: str | None = None
    henkilo: etree._Element | None = None
    queried: str | None = None
    hakuperuste: str | None = None
    product: str | None = None
    extracted_at: str | None = None
    if sanoma is not None:
        product = _attr(sanoma, "sanomatunnus")
        extracted_at = _timestamp(_attr(sanoma, "tietojenPoimintaaika"))
        for child in sanoma.iterchildren(etree.Element):
            name = _local(child.tag)
            if name == "Paluukoodi":
                return_code = merged_return_code(return_code, child)
            elif name == "Hakuperusteet":
                for criterion in child.iterchildren(etree.Element):
                    if _local(criterion.tag) == "Henkilotunnus":
                        queried = queried or _text(criterion)
                        hakuperuste = hakuperuste or _attr(criterion, "hakuperustePaluukoodi")
            elif name == "Henkilo" and henkilo is None:
                henkilo = child

    parts: _Henkilo | None = None  # read only when the outcome needs it
    if fault_code is not None:
        outcome = (
            Outcome.NOT_FOUND
            if normalise_code(fault_code) in BODY_FAULT_NOT_FOUND
            else Outcome.UPSTREAM_REJECTED
        )
    elif return_code is not None:
        outcome = outcome_for(return_code)
    elif hakuperuste in _HAKUPERUSTE_OUTCOMES:
        outcome = _HAKUPERUSTE_OUTCOMES[hakuperuste]
    elif henkilo is not None and (parts := _read_henkilo(henkilo)).hetus:
        outcome = Outcome.FOUND
    else:
        outcome = Outcome.UPSTREAM_REJECTED

    person: Person | None = None
    person_hetus: tuple[str, ...] = ()
    other_blocks: tuple[etree._Element, ...] = ()
    new_active_hetu: str | None = None
    categories: tuple[str, ...] = ()
    if henkilo is not None and outcome in _PERSON_OUTCOMES:
        parts = parts or _read_henkilo(henkilo)
        person = _person(parts, deceased_by_code=outcome is Outcome.DECEASED)
        if person is not None:
            categories = tuple(sorted(parts.categories, key=_CATEGORY_ORDER.__getitem__))
            person_hetus = tuple(value for value, _ in parts.hetus)
            other_blocks = tuple(parts.others)
        if outcome is Outcome.PASSIVATED:
            new_active_hetu = _new_active_hetu(parts, queried or echo_hetu)

    return VtjResult(
        outcome=outcome,
        return_code=return_code,
        person=person,
        new_active_hetu=new_active_hetu,
        data_categories=categories,
        fault_code=fault_code,
        fault_string=fault_string,
        product=product,
        extracted_at=extracted_at,
        person_hetus=person_hetus,
        other_blocks=other_blocks,
    )
