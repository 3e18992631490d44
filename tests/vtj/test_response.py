"""HenkilonTunnusKyselyResponse parsing: outcomes, person fields and leniency, over hand-written fixtures."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from xroad_vtj.errors import InvalidUpstreamResponse
from xroad_vtj.vtj.response import (
    DATA_CATEGORIES,
    Address,
    ForeignAddress,
    Language,
    Municipality,
    Outcome,
    Person,
    VtjResult,
    parse_henkilon_tunnus_kysely_response,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vtj"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
VTJ = "http://xml.vrk.fi/ws/vtj/vtjkysely/1"


def wrapper_from_envelope(data: bytes) -> etree._Element:
    """The HenkilonTunnusKyselyResponse element of a SOAP envelope, as the X-Road layer hands it over."""
    envelope = etree.fromstring(data, PARSER)
    (body,) = [c for c in envelope if isinstance(c.tag, str) and etree.QName(c).localname == "Body"]
    return next(c for c in body if isinstance(c.tag, str))


def parse_fixture(name: str) -> VtjResult:
    return parse_henkilon_tunnus_kysely_response(wrapper_from_envelope((FIXTURES / name).read_bytes()))


HELSINKI = Municipality("091", "Helsinki", "Helsingfors")
FINNISH = Language("fi", "suomi", "finska")
SWEDISH = Language("sv", "ruotsi", "svenska")
TESTIKATU = Address(
    "Testikatu 1 A 2", "Testgatan 1 A 2", "00100", "HELSINKI", "HELSINGFORS", "2015-03-01", None
)
MAIJA: dict[str, Any] = {
    "hetu": "010280-952L",
    "hetu_active": True,
    "last_name": "Testaaja",
    "first_names": "Maija Liisa",
    "sex": "female",
    "non_disclosure": None,
    "deceased": False,
    "death_date": None,
    "home_municipality": HELSINKI,
    "permanent_address": TESTIKATU,
    "foreign_address": None,
    "native_language": FINNISH,
}
MAIJA_FULL: dict[str, Any] = {
    **MAIJA,
    "calling_name": "Liisa",
    "temporary_address": Address(
        "Kesätie 5", "Sommarvägen 5", "90100", "OULU", "ULEÅBORG", "2026-06-01", "2026-08-31"
    ),
    "postal_address": Address("PL 123", "PB 123", "00101", "HELSINKI", "HELSINGFORS", "2020-01-01", None),
}
MAIJA_SHORT: dict[str, Any] = {
    **MAIJA,
    "calling_name": None,
    "temporary_address": None,
    "postal_address": None,
}
MAIJA_CATEGORIES = ("identity", "name", "sex", "address", "home_municipality", "native_language")
STAMP = "2026-11-26T10:15:30"

# fixture -> expected result fields; "person" is a dict of expected Person fields (all given ones must match)
EXPECTED: dict[str, dict[str, Any]] = {
    "perussanoma1-found.xml": {
        "outcome": Outcome.FOUND,
        "return_code": "0000",
        "product": "PERUSSANOMA 1",
        "extracted_at": STAMP,
        "person": MAIJA_FULL,
        "data_categories": MAIJA_CATEGORIES,
    },
    "perussanoma1-found-whitespace.xml": {
        "outcome": Outcome.FOUND,
        "return_code": "0000",
        "product": "PERUSSANOMA 1",
        "extracted_at": STAMP,
        "person": MAIJA_FULL,
        "data_categories": MAIJA_CATEGORIES,
    },
    "perussanoma1-found-compact.xml": {
        "outcome": Outcome.FOUND,
        "return_code": "0000",
        "product": "PERUSSANOMA 1",
        "extracted_at": STAMP,
        "person": MAIJA_SHORT,
        "data_categories": MAIJA_CATEGORIES,
    },
    "perussanoma1-found-shuffled.xml": {
        "outcome": Outcome.FOUND,
        "return_code": "0000",
        "product": "PERUSSANOMA 1",
        "extracted_at": STAMP,
        "fault_code": None,
        "fault_string": None,
        "person": MAIJA_SHORT,
        "data_categories": (*MAIJA_CATEGORIES, "other"),
    },
    "perussanoma1-turvakielto-empty-address.xml": {
        "outcome": Outcome.FOUND,
        "return_code": "0000",
        "person": {
            "hetu": "260991-999R",
            "last_name": "Suojattu",
            "first_names": "Sami Petteri",
            "sex": "male",
            "non_disclosure": None,
            "home_municipality": None,
            "permanent_address": None,
            "temporary_address": None,
            "postal_address": None,
            "foreign_address": None,
            "native_language": FINNISH,
        },
        "data_categories": ("identity", "name", "sex", "native_language"),
    },
    "perussanoma3-turvakielto.xml": {
        "outcome": Outcome.FOUND,
        "return_code": "0000",
        "product": "PERUSSANOMA 3",
        "person": {
            "hetu": "260991-999R",
            "non_disclosure": True,
            "permanent_address": Address(
                "Salainen polku 3", "Hemliga stigen 3", "33100", "TAMPERE", "TAMMERFORS", "2021-08-15", None
            ),
            "home_municipality": Municipality("837", "Tampere", "Tammerfors"),
            "native_language": SWEDISH,
            "sex": "male",
        },
        "data_categories": (
            "identity",
            "name",
            "sex",
            "address",
            "home_municipality",
            "native_language",
            "non_disclosure",
            "citizenship",
        ),
    },
    "perussanoma3-foreign-address.xml": {
        "outcome": Outcome.FOUND,
        "person": {
            "hetu": "120355-996F",
            "permanent_address": None,
            "home_municipality": None,
            "non_disclosure": False,
            "foreign_address": ForeignAddress(
                "Storgatan 12", "STOCKHOLM", "752", "RUOTSI", "SVERIGE", "1980", None
            ),
        },
        "data_categories": ("identity", "name", "sex", "address", "native_language", "non_disclosure"),
    },
    "not-found-faultcode-0001.xml": {
        "outcome": Outcome.NOT_FOUND,
        "return_code": None,
        "fault_code": "0001",
        "fault_string": "Hakuperusteella ei löydy tietoja vtj:stä",
        "product": None,
        "extracted_at": None,
        "person": None,
        "data_categories": (),
    },
    "not-found-paluukoodi-0006.xml": {
        "outcome": Outcome.NOT_FOUND,
        "return_code": "0006",
        "fault_code": None,
        "person": None,
        "data_categories": (),
    },
    "passivated-0002-new-hetu.xml": {
        "outcome": Outcome.PASSIVATED,
        "return_code": "0002",
        "new_active_hetu": "010675-950F",
        "person": {"hetu": "010675-950F", "hetu_active": True, "last_name": "Vaihtaja"},
        "data_categories": ("identity", "name", "home_municipality"),
    },
    "deceased-0007.xml": {
        "outcome": Outcome.DECEASED,
        "return_code": "0007",
        "person": {"hetu": "020365-999P", "deceased": True, "death_date": "2024-01-15", "sex": "male"},
        "data_categories": ("identity", "name", "sex", "death"),
    },
    "under-15-0018.xml": {
        "outcome": Outcome.FOUND,
        "return_code": "0018",
        "person": {
            "hetu": "010516B903X",
            "first_names": "Niilo Onni",
            "calling_name": "Onni",
            "home_municipality": Municipality("049", "Espoo", "Esbo"),
        },
    },
    "wrong-password-0003.xml": {
        "outcome": Outcome.UPSTREAM_REJECTED,
        "return_code": "0003",
        "person": None,
        "data_categories": (),
    },
    "unknown-product-1901.xml": {
        "outcome": Outcome.UPSTREAM_REJECTED,
        "return_code": "-1901",
        "product": None,
        "person": None,
    },
    "fault-end-user-missing-1904.xml": {
        "outcome": Outcome.UPSTREAM_REJECTED,
        "return_code": None,
        "fault_code": "-1904",
        "fault_string": "Sanoma ei ole validi (loppukäyttäjä puuttuu)",
        "person": None,
    },
    "not-disclosed-0019.xml": {
        "outcome": Outcome.NOT_DISCLOSED,
        "return_code": "0019",
        "person": None,
        "data_categories": (),
    },
    "unknown-return-code.xml": {
        "outcome": Outcome.UPSTREAM_REJECTED,
        "return_code": "0099",
        "person": None,
        "data_categories": (),
    },
    "found-empty-elements.xml": {
        "outcome": Outcome.FOUND,
        "person": {
            "hetu": "010280-952L",
            "last_name": None,
            "first_names": None,
            "calling_name": None,
            "sex": None,
            "non_disclosure": False,
            "deceased": False,
            "home_municipality": None,
            "permanent_address": None,
            "temporary_address": None,
            "postal_address": None,
            "foreign_address": None,
            "native_language": None,
        },
        "data_categories": ("identity", "non_disclosure"),
    },
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.xml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_the_expected_result(name: str) -> None:
    result = parse_fixture(name)
    expected = dict(EXPECTED[name])
    person = expected.pop("person")
    expected.setdefault("new_active_hetu", None)
    for field, value in expected.items():
        assert getattr(result, field) == value, field
    if person is None:
        assert result.person is None
    else:
        assert result.person is not None
        for field, value in person.items():
            assert getattr(result.person, field) == value, field


def test_whitespace_and_order_do_not_change_the_result() -> None:
    plain = parse_fixture("perussanoma1-found.xml")
    assert parse_fixture("perussanoma1-found-whitespace.xml") == plain
    shuffled = parse_fixture("perussanoma1-found-shuffled.xml").person
    compact = parse_fixture("perussanoma1-found-compact.xml").person
    assert shuffled == compact


def test_fixtures_are_full_xroad_soap_responses() -> None:
    for path in FIXTURES.glob("*.xml"):
        envelope = etree.fromstring(path.read_bytes(), PARSER)
        assert etree.QName(envelope).localname == "Envelope", path.name
        assert envelope.find("{*}Header/{http://x-road.eu/xsd/xroad.xsd}requestHash") is not None, path.name
        assert (
            etree.QName(wrapper_from_envelope(path.read_bytes())).localname == "HenkilonTunnusKyselyResponse"
        )


def test_fixtures_only_hold_temporary_test_identities() -> None:
    import re

    for path in FIXTURES.glob("*.xml"):
        for hetu in re.findall(r"[0-9]{6}[-+A-FU-Y][0-9]{3}[0-9A-Y]", path.read_text(encoding="utf-8")):
            assert int(hetu[7:10]) >= 900, (path.name, hetu)


# --- edge cases on small inline responses ------------------------------------------------------------------


def answer(
    henkilo: str = "", code: str | None = "0000", extra: str = "", hakuperuste: str | None = None
) -> VtjResult:
    paluukoodi = "" if code is None else f'<Paluukoodi koodi="{code}">x</Paluukoodi>'
    haku = ""
    if hakuperuste is not None:
        criterion = f'<Henkilotunnus hakuperustePaluukoodi="{hakuperuste}">010280-952L</Henkilotunnus>'
        haku = f"<Hakuperusteet>{criterion}</Hakuperusteet>"
    person = f"<Henkilo>{henkilo}</Henkilo>" if henkilo else ""
    xml = (
        f'<HenkilonTunnusKyselyResponse xmlns="{VTJ}">'
        "<request><Henkilotunnus>010280-952L</Henkilotunnus></request>"
        '<response><VTJHenkiloVastaussanoma xmlns="http://xml.vrk.fi/schema/vtjkysely" sanomatunnus="P"'
        f' tietojenPoimintaaika="20260230101010">{paluukoodi}{haku}{person}</VTJHenkiloVastaussanoma>'
        f"{extra}</response></HenkilonTunnusKyselyResponse>"
    )
    return parse_henkilon_tunnus_kysely_response(etree.fromstring(xml, PARSER))


HETU = '<Henkilotunnus voimassaolokoodi="1">010280-952L</Henkilotunnus>'


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("20240229", "2024-02-29"),
        ("20230229", None),
        ("19800500", "1980-05"),
        ("19800000", "1980"),
        ("19801300", None),
        ("19800010", None),
        ("1980-05-01", None),
        ("", None),
    ],
)
def test_dates_become_iso_keeping_partial_precision(raw: str, iso: str | None) -> None:
    result = answer(HETU + f"<Kuolintiedot><Kuollut>1</Kuollut><Kuolinpvm>{raw}</Kuolinpvm></Kuolintiedot>")
    assert result.person is not None
    assert result.person.death_date == iso
    assert result.person.deceased


def test_invalid_extraction_time_is_absent_not_an_error() -> None:
    assert answer(HETU).extracted_at is None  # 30 February


@pytest.mark.parametrize(
    ("turvakielto", "expected"),
    [
        ("", None),
        ("<Turvakielto/>", False),
        ("<Turvakielto><TurvakieltoTieto/></Turvakielto>", False),
        ("<Turvakielto><TurvakieltoTieto>0</TurvakieltoTieto></Turvakielto>", False),
        ("<Turvakielto><TurvakieltoTieto> 1 </TurvakieltoTieto></Turvakielto>", True),
    ],
)
def test_non_disclosure_is_none_without_the_element_and_true_only_for_1(
    turvakielto: str, expected: bool | None
) -> None:
    result = answer(HETU + turvakielto)
    assert result.person is not None
    assert result.person.non_disclosure is expected
    assert ("non_disclosure" in result.data_categories) is (expected is not None)


@pytest.mark.parametrize(("code", "sex"), [("1", "male"), ("2", "female"), ("", None), ("X", None)])
def test_sex_comes_from_sukupuolikoodi(code: str, sex: str | None) -> None:
    result = answer(HETU + f"<Sukupuoli><Sukupuolikoodi>{code}</Sukupuolikoodi></Sukupuoli>")
    assert result.person is not None
    assert result.person.sex == sex


def test_passive_own_hetu_is_reported_as_not_active() -> None:
    result = answer('<Henkilotunnus voimassaolokoodi="2">010280-952L</Henkilotunnus>')
    assert result.person is not None
    assert result.person.hetu_active is False


def test_persons_hetu_is_never_taken_from_the_request_echo() -> None:
    result = answer("<NykyinenSukunimi><Sukunimi>Testaaja</Sukunimi></NykyinenSukunimi>")
    assert result.person is not None
    assert result.person.hetu is None


def test_first_non_empty_temporary_address_is_used() -> None:
    empty = "<TilapainenKotimainenLahiosoite><LahiosoiteS/></TilapainenKotimainenLahiosoite>"
    first = (
        "<TilapainenKotimainenLahiosoite><LahiosoiteS>Eka 1</LahiosoiteS></TilapainenKotimainenLahiosoite>"
    )
    second = (
        "<TilapainenKotimainenLahiosoite><LahiosoiteS>Toka 2</LahiosoiteS><Postinumero>00200</Postinumero>"
        "</TilapainenKotimainenLahiosoite>"
    )
    result = answer(HETU + empty + first + second)
    assert result.person is not None
    assert result.person.temporary_address == Address("Eka 1", None, None, None, None, None, None)


def test_declared_dead_counts_as_deceased() -> None:
    result = answer(
        HETU + "<Kuolleeksijulistamistiedot><Kuolleeksijulistamispvm>20200101</Kuolleeksijulistamispvm>"
        "</Kuolleeksijulistamistiedot>"
    )
    assert result.person is not None
    assert (result.person.deceased, result.person.death_date) == (True, "2020-01-01")
    assert result.data_categories == ("identity", "death")


def test_return_code_0007_marks_the_person_deceased_even_without_death_data() -> None:
    result = answer(HETU, code="0007")
    assert result.outcome is Outcome.DECEASED
    assert result.person is not None and result.person.deceased


def test_deceased_0007_without_person_has_no_person() -> None:
    result = answer(code="0007")
    assert (result.outcome, result.person) == (Outcome.DECEASED, None)


@pytest.mark.parametrize(("code", "normalised"), [("6", "0006"), (" 0001 ", "0001"), ("\u22121901", "-1901")])
def test_return_codes_are_normalised(code: str, normalised: str) -> None:
    assert answer(code=code).return_code == normalised


def test_relations_and_other_elements_are_listed_as_categories() -> None:
    result = answer(
        HETU + "<Huoltaja><Henkilotunnus>020190-9521</Henkilotunnus></Huoltaja>"
        "<AsukasLkm>3</AsukasLkm><Kansalaisuus><Kansalaisuuskoodi3>246</Kansalaisuuskoodi3></Kansalaisuus>"
        "<Edunvalvonta><HenkiloEdunvalvoja><NykyinenSukunimi><Sukunimi>X</Sukunimi></NykyinenSukunimi>"
        "</HenkiloEdunvalvoja></Edunvalvonta><Tuntematon><A><B>1</B></A></Tuntematon>"
    )
    assert result.data_categories == (
        "identity",
        "citizenship",
        "relations",
        "guardianship",
        "residents",
        "other",
    )
    assert set(result.data_categories) <= set(DATA_CATEGORIES)
    assert result.person is not None and result.person.hetu == "010280-952L"


def test_names_inside_relations_do_not_leak_into_the_person() -> None:
    result = answer(
        HETU + "<Huoltaja><NykyinenSukunimi><Sukunimi>Huoltaja</Sukunimi></NykyinenSukunimi></Huoltaja>"
    )
    assert result.person is not None
    assert result.person.last_name is None


def test_an_empty_henkilo_gives_no_person() -> None:
    result = answer("<NykyinenSukunimi><Sukunimi/></NykyinenSukunimi>")
    assert (result.outcome, result.person, result.data_categories) == (Outcome.FOUND, None, ())


@pytest.mark.parametrize(
    ("henkilo", "new"),
    [
        ('<Henkilotunnus voimassaolokoodi="2">010280-952L</Henkilotunnus>', None),
        ('<Henkilotunnus voimassaolokoodi="1">010280-952L</Henkilotunnus>', None),
        ('<Henkilotunnus voimassaolokoodi="1">010675-950X</Henkilotunnus>', None),  # wrong check character
        ('<Henkilotunnus voimassaolokoodi="1">010675-950F</Henkilotunnus>', "010675-950F"),
    ],
)
def test_passivated_new_hetu_must_be_valid_active_and_different(henkilo: str, new: str | None) -> None:
    result = answer(henkilo, code="0002", hakuperuste="2")
    assert result.outcome is Outcome.PASSIVATED
    assert result.new_active_hetu == new


def test_new_active_hetu_is_only_reported_for_passivated() -> None:
    result = answer('<Henkilotunnus voimassaolokoodi="1">010675-950F</Henkilotunnus>', hakuperuste="1")
    assert (result.outcome, result.new_active_hetu) == (Outcome.FOUND, None)


@pytest.mark.parametrize(
    ("hakuperuste", "henkilo", "outcome"),
    [
        ("1", "", Outcome.FOUND),
        ("0", "", Outcome.NOT_FOUND),
        ("2", "", Outcome.PASSIVATED),
        (None, HETU, Outcome.FOUND),
        (None, "", Outcome.UPSTREAM_REJECTED),
        ("7", "", Outcome.UPSTREAM_REJECTED),
    ],
)
def test_without_paluukoodi_the_search_criterion_code_or_a_person_decides(
    hakuperuste: str | None, henkilo: str, outcome: Outcome
) -> None:
    result = answer(henkilo, code=None, hakuperuste=hakuperuste)
    assert (result.outcome, result.return_code) == (outcome, None)


def test_fault_code_beside_a_person_wins_and_hides_the_person() -> None:
    result = answer(HETU, extra="<faultCode>0003</faultCode><faultString>Salasana väärin</faultString>")
    assert result.outcome is Outcome.UPSTREAM_REJECTED
    assert (result.fault_code, result.fault_string, result.return_code) == ("0003", "Salasana väärin", "0000")
    assert result.person is None
    assert result.product == "P"


def test_empty_fault_code_beside_an_answer_is_ignored() -> None:
    result = answer(HETU, extra="<faultCode/><faultString>  </faultString>")
    assert (result.outcome, result.fault_code, result.fault_string) == (Outcome.FOUND, None, None)


@pytest.mark.parametrize("code", ["0001", "0006", "1"])
def test_body_fault_codes_meaning_not_found(code: str) -> None:
    xml = (
        f'<HenkilonTunnusKyselyResponse xmlns="{VTJ}"><response><faultCode>{code}</faultCode></response>'
        "</HenkilonTunnusKyselyResponse>"
    )
    result = parse_henkilon_tunnus_kysely_response(etree.fromstring(xml))
    assert result.outcome is Outcome.NOT_FOUND
    assert result.fault_code == code


@pytest.mark.parametrize(
    "xml",
    [
        f'<HenkilonTunnusKyselyResponse xmlns="{VTJ}"><request/></HenkilonTunnusKyselyResponse>',
        f'<HenkilonTunnusKyselyResponse xmlns="{VTJ}"><response/></HenkilonTunnusKyselyResponse>',
        f'<HenkilonTunnusKyselyResponse xmlns="{VTJ}"><response><faultCode> </faultCode><faultString>x'
        "</faultString></response></HenkilonTunnusKyselyResponse>",
        f'<HenkilonTunnusKyselyResponse xmlns="{VTJ}"><response><Henkilo/></response>'
        "</HenkilonTunnusKyselyResponse>",
        f'<HenkilonTunnistusKyselyResponse xmlns="{VTJ}"><response><faultCode>0001</faultCode></response>'
        "</HenkilonTunnistusKyselyResponse>",
    ],
)
def test_answers_without_a_usable_response_are_invalid(xml: str) -> None:
    with pytest.raises(InvalidUpstreamResponse) as info:
        parse_henkilon_tunnus_kysely_response(etree.fromstring(xml))
    assert info.value.status == 502


# --- values ------------------------------------------------------------------------------------------------


PERSON_KEYS = [
    "hetu",
    "hetu_active",
    "last_name",
    "first_names",
    "calling_name",
    "sex",
    "non_disclosure",
    "deceased",
    "death_date",
    "home_municipality",
    "permanent_address",
    "temporary_address",
    "postal_address",
    "foreign_address",
    "native_language",
]


def test_person_to_json_has_exactly_the_documented_keys_and_nested_objects() -> None:
    person = parse_fixture("perussanoma1-found.xml").person
    assert person is not None
    doc = person.to_json()
    assert list(doc) == PERSON_KEYS
    assert doc["permanent_address"] == {
        "street_fi": "Testikatu 1 A 2",
        "street_sv": "Testgatan 1 A 2",
        "postal_code": "00100",
        "post_office_fi": "HELSINKI",
        "post_office_sv": "HELSINGFORS",
        "start_date": "2015-03-01",
        "end_date": None,
    }
    assert doc["home_municipality"] == {"code": "091", "name_fi": "Helsinki", "name_sv": "Helsingfors"}
    assert doc["native_language"] == {"code": "fi", "name_fi": "suomi", "name_sv": "finska"}
    assert doc["foreign_address"] is None


def test_foreign_address_to_json() -> None:
    person = parse_fixture("perussanoma3-foreign-address.xml").person
    assert person is not None and person.foreign_address is not None
    assert person.foreign_address.to_json() == {
        "street": "Storgatan 12",
        "place": "STOCKHOLM",
        "country_code": "752",
        "country_fi": "RUOTSI",
        "country_sv": "SVERIGE",
        "start_date": "1980",
        "end_date": None,
    }


def test_result_to_json_is_plain_data() -> None:
    doc = parse_fixture("passivated-0002-new-hetu.xml").to_json()
    assert doc["outcome"] == "passivated"
    assert doc["new_active_hetu"] == "010675-950F"
    assert doc["data_categories"] == ["identity", "name", "home_municipality"]
    assert isinstance(doc["person"], dict)


def test_reprs_do_not_show_personal_data() -> None:
    result = parse_fixture("passivated-0002-new-hetu.xml")
    text = repr(result)
    for secret in ("010675", "Vaihtaja", "Ville", "Jyväskylä"):
        assert secret not in text
    assert "passivated" in text
    person = parse_fixture("perussanoma1-found.xml").person
    assert person is not None
    for value in (person, person.permanent_address, person.home_municipality):
        assert "Testi" not in repr(value) and "Helsinki" not in repr(value)


def test_values_are_frozen() -> None:
    result = parse_fixture("perussanoma1-found.xml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.outcome = Outcome.NOT_FOUND  # type: ignore[misc]
    assert isinstance(result.person, Person)


@pytest.mark.parametrize(
    "turvakielto", ["<Turvakielto/>", "<Turvakielto><TurvakieltoTieto>1</TurvakieltoTieto></Turvakielto>"]
)
def test_a_response_without_any_namespace_is_read_the_same(turvakielto: str) -> None:
    xml = (
        "<HenkilonTunnusKyselyResponse><response><VTJHenkiloVastaussanoma><Paluukoodi koodi='0000'/><Henkilo>"
        f"<Henkilotunnus>010280-952L</Henkilotunnus>{turvakielto}</Henkilo></VTJHenkiloVastaussanoma></response>"
        "</HenkilonTunnusKyselyResponse>"
    )
    result = parse_henkilon_tunnus_kysely_response(etree.fromstring(xml))
    assert result.outcome is Outcome.FOUND
    assert result.person is not None
    assert result.person.non_disclosure is ("1" in turvakielto)
    assert result.data_categories == ("identity", "non_disclosure")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20261201051500", "2026-12-01T05:15:00"),
        ("20261301051500", None),  # month 13
        ("20260230000000", None),  # 30 February
        ("2026120105150", None),  # 13 digits
        ("20261201051500" * 1000, None),
        ("".join(chr(0xFF10 + int(d)) for d in "20261201051500"), None),  # full-width digits
        (None, None),
    ],
)
def test_extraction_time_is_read_the_same_each_time_it_is_seen(
    value: str | None, expected: str | None
) -> None:
    from xroad_vtj.vtj.response import _timestamp

    assert _timestamp(value) == expected
    assert _timestamp(value) == expected  # the remembered form is the same
