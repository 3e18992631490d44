"""Conformance of the VTJ core against real public messages and DVV schemas in ``<repo>/../shared/reference``.

The folder is not part of the product: without it these tests skip, except in CI (env ``CI`` set), where its
absence is a failure. ``XROAD_VTJ_REFERENCE`` may point at the folder from elsewhere (e.g. a git worktree).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from xroad_vtj.vtj.codes import RETURN_CODES
from xroad_vtj.vtj.hetu import CENTURY_SIGNS, is_valid_hetu, parse_hetu
from xroad_vtj.vtj.operations import OPERATION_FIELDS, build_operation_body
from xroad_vtj.vtj.response import (
    Address,
    Language,
    Municipality,
    Outcome,
    VtjResult,
    parse_henkilon_tunnus_kysely_response,
)

pytestmark = pytest.mark.conformance

REFERENCE = Path(
    os.environ.get("XROAD_VTJ_REFERENCE")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
)
VTJ_REF = REFERENCE / "vtj"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
SSN_PLACEHOLDER = b"{{ parameters.ssn }}"
SUBSTITUTE_HETU = "010280-952L"


@pytest.fixture(autouse=True)
def _reference_present() -> None:
    if not VTJ_REF.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference folder missing in CI: {VTJ_REF}")
        pytest.skip("reference folder ../shared/reference not present")


def reference_wrapper(relative: str) -> etree._Element:
    data = (VTJ_REF / relative).read_bytes().replace(SSN_PLACEHOLDER, SUBSTITUTE_HETU.encode())
    envelope = etree.fromstring(data, PARSER)
    body = next(c for c in envelope if isinstance(c.tag, str) and etree.QName(c).localname == "Body")
    return next(c for c in body if isinstance(c.tag, str))


def parse_reference(relative: str) -> VtjResult:
    return parse_henkilon_tunnus_kysely_response(reference_wrapper(relative))


VAASA = Municipality("905", "Vaasa", "Vasa")
FINNISH = Language("fi", "suomi", "finska")
KURTENINKATU = Address(
    "Kurteninkatu 13 H 45", "Kurtensgatan 13 H 45", "65100", "VAASA", "VASA", "2015-06-01", None
)
FULL_CATEGORIES = (
    "identity",
    "name",
    "sex",
    "address",
    "home_municipality",
    "native_language",
    "non_disclosure",
)

EXPECTED: dict[str, dict[str, Any]] = {
    "evaka/fixtures/perussanoma3Response.xml": {
        "result": {
            "outcome": Outcome.FOUND,
            "return_code": "0000",
            "product": "PERUSSANOMA 3",
            "extracted_at": "2019-06-20T17:42:12",
            "data_categories": (*FULL_CATEGORIES, "citizenship"),
        },
        "person": {
            "hetu": "020501A999T",
            "hetu_active": True,
            "last_name": "Jäppinen",
            "first_names": "Albert Kristian",
            "calling_name": None,
            "sex": "male",
            "non_disclosure": False,
            "deceased": False,
            "death_date": None,
            "home_municipality": VAASA,
            "permanent_address": Address(
                "Kauppa Puistikko 6 B 23",
                "Handels Esplanaden 6 B 23",
                "65100",
                "VAASA",
                "VASA",
                "2003-11-25",
                None,
            ),
            "temporary_address": None,
            "postal_address": None,
            "foreign_address": None,
            "native_language": FINNISH,
        },
    },
    "evaka/fixtures/huoltajaHuollettavatResponse.xml": {
        "result": {
            "outcome": Outcome.FOUND,
            "return_code": "0000",
            "product": "HUOLTAJA-HUOLLETTAVAT",
            "extracted_at": "2019-06-25T11:52:55",
            "data_categories": (*FULL_CATEGORIES, "relations"),
        },
        "person": {
            "hetu": "020190-9521",
            "last_name": "Popov",
            "first_names": "Anna Alexandra",
            "sex": "female",
            "non_disclosure": False,
            "home_municipality": VAASA,
            "permanent_address": KURTENINKATU,
            "native_language": Language("et", "viro, eesti", "estniska"),
        },
    },
    "evaka/fixtures/huollettavaHuoltajaResponse.xml": {
        "result": {
            "outcome": Outcome.FOUND,
            "return_code": "0000",
            "product": "HUOLLETTAVA-HUOLTAJAT",
            "extracted_at": "2020-04-24T12:45:18",
            "data_categories": (*FULL_CATEGORIES, "relations"),
        },
        "person": {
            "hetu": "311211A9527",
            "last_name": "Popov",
            "first_names": "Minja Zavutina",
            "sex": "female",
            "permanent_address": KURTENINKATU,
            "home_municipality": VAASA,
            "native_language": FINNISH,
        },
    },
    "evaka/fixtures/asukasMaaraResponse.xml": {
        "result": {
            "outcome": Outcome.FOUND,
            "return_code": "0000",
            "product": "ASUKASLKM2",
            "extracted_at": "2019-06-25T13:48:46",
            "data_categories": ("identity", "residents"),
        },
        "person": {
            "hetu": "020501A999T",
            "hetu_active": True,
            "last_name": None,
            "non_disclosure": None,
            "home_municipality": None,
            "permanent_address": None,
        },
    },
    "evaka/fixtures/henkilotunnuskysely-response-ok.xml": {
        "result": {
            "outcome": Outcome.FOUND,
            "return_code": None,
            "product": None,
            "extracted_at": None,
            "fault_code": None,
            "fault_string": None,
            "data_categories": ("identity", "non_disclosure"),
        },
        "person": {
            "hetu": SUBSTITUTE_HETU,
            "hetu_active": None,
            "last_name": None,
            "non_disclosure": False,
            "permanent_address": None,
        },
    },
    "vrk-kpa/response-found-210281-9988.xml": {
        "result": {
            "outcome": Outcome.FOUND,
            "return_code": "0000",
            "product": "PERUSJHHS3",
            "extracted_at": "2016-01-08T10:56:04",
            "data_categories": (
                "identity",
                "name",
                "address",
                "home_municipality",
                "native_language",
                "non_disclosure",
                "citizenship",
            ),
        },
        "person": {
            "hetu": "210281-9988",
            "hetu_active": True,
            "last_name": "Testaaja",
            "first_names": "Portaalia Nordea",
            "calling_name": "Nordea",
            "sex": None,
            "non_disclosure": False,
            "deceased": False,
            "home_municipality": Municipality("019", "Helsinki", "helsingfors"),
            "permanent_address": Address(
                "Nordeatie 2", "Nordeaväg 2", "00120", "Helsinki", "Helsingfors", "2016-03-12", None
            ),
            "foreign_address": None,
            "native_language": FINNISH,
        },
    },
    "vrk-kpa/response-not-found.xml": {
        "result": {
            "outcome": Outcome.NOT_FOUND,
            "return_code": None,
            "fault_code": "0001",
            "fault_string": "Hakuperusteella ei löydy tietoja vtj:stä",
            "product": None,
            "data_categories": (),
        },
        "person": None,
    },
    "vrk-kpa/response-not-found-sdsb-namespace.xml": {
        "result": {
            "outcome": Outcome.NOT_FOUND,
            "return_code": None,
            "fault_code": "0001",
            "fault_string": "Hakuperusteella ei löydy tietoja vtj:stä",
            "data_categories": (),
        },
        "person": None,
    },
}


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_real_response_parses_to_the_right_outcome_and_values(relative: str) -> None:
    result = parse_reference(relative)
    expected = EXPECTED[relative]
    for field, value in expected["result"].items():
        assert getattr(result, field) == value, field
    assert result.new_active_hetu is None
    if expected["person"] is None:
        assert result.person is None
    else:
        assert result.person is not None
        for field, value in expected["person"].items():
            assert getattr(result.person, field) == value, field


def test_every_henkilon_tunnus_kysely_response_in_the_reference_is_covered() -> None:
    found = {
        str(path.relative_to(VTJ_REF))
        for path in VTJ_REF.rglob("*.xml")
        if b"HenkilonTunnusKyselyResponse" in path.read_bytes()
    }
    assert found == set(EXPECTED)


def test_browser_rendered_example_is_not_well_formed_and_is_refused_cleanly() -> None:
    data = (VTJ_REF / "helsinki-vety" / "peruslt1esimerkkivastaus.xml").read_bytes()
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(data, PARSER)


def test_every_henkilotunnus_in_real_responses_is_valid() -> None:
    seen = 0
    for relative in EXPECTED:
        for element in reference_wrapper(relative).iter("{*}Henkilotunnus"):
            text = (element.text or "").strip()
            if text:
                assert is_valid_hetu(text), relative
                assert parse_hetu(text).is_temporary
                seen += 1
    assert seen >= 20


# One value per field, as the pipeline sends them (criteria are a string holding XML).
_FIELD_VALUES = {
    "Henkilotunnus": "010280-952L",
    "SahkoinenAsiointitunnus": "99999952L",
    "HakuXml": "<Haku><Sukunimi>Testaaja</Sukunimi></Haku>",
    "Rakennustunnus": "100012345A",
    "Huoneistotunnus": "A 1",
    "Kiinteistotunnus": "09140300010005",
}


@pytest.mark.parametrize("operation", sorted(OPERATION_FIELDS))
def test_built_request_is_valid_against_the_query_schema(operation: str) -> None:
    # The builder production uses, for every operation and each of its fields (query.xsd is a choice for the
    # person query: one identifier at a time).
    schema = etree.XMLSchema(etree.parse(str(VTJ_REF / "evaka" / "query.xsd"), PARSER))
    for name in OPERATION_FIELDS[operation]:
        fields = [(name, _FIELD_VALUES[name])]
        if name == "Huoneistotunnus":
            fields.insert(0, ("Rakennustunnus", _FIELD_VALUES["Rakennustunnus"]))
        element = build_operation_body(
            operation, product="PERUSSANOMA 1", username="u", password="p", end_user="e", fields=fields
        )
        assert schema.validate(element), schema.error_log


def _catalogue() -> str:
    return (VTJ_REF / "evaka" / "VTJHenkilotiedotKatalogi.xsd").read_bytes().decode("iso-8859-1")


def test_century_signs_match_dvvs_henkilotunnus_pattern() -> None:
    match = re.search(r'name="HenkilotunnusTyyppi".*?\[0-9\]\{2\}\[(.*?)\]\[0-9\]\{3\}', _catalogue(), re.S)
    assert match is not None
    signs = set(match.group(1).replace("\\", ""))
    assert signs == set(CENTURY_SIGNS)


def test_return_code_table_matches_dvvs_catalogue() -> None:
    block = re.search(r'name="PaluukoodiTekstiTyyppi".*?</xs:documentation>', _catalogue(), re.S)
    assert block is not None
    documented = set(re.findall(r"^\s*(-?[0-9]{4})\s", block.group(0), re.M))
    assert documented == set(RETURN_CODES)
