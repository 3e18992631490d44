"""Relations and person.extra from the project's own fixtures (the real responses: tests/conformance)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from xroad_vtj.errors import InvalidUpstreamResponse
from xroad_vtj.vtj import parse_henkilon_tunnus_kysely_response
from xroad_vtj.vtj.relations import person_extras, read_person_extras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vtj"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


def wrapper(path: Path) -> etree._Element:
    envelope = etree.fromstring(path.read_bytes(), PARSER)
    (body,) = [c for c in envelope if etree.QName(c).localname == "Body"]
    return next(c for c in body if isinstance(c.tag, str))


def test_children_and_dependants_are_read_with_what_vtj_gave() -> None:
    extras = read_person_extras(
        wrapper(FIXTURES / "operations" / "relations-vanhempi.xml"), "Vanhempi -lapset ja huollettavat"
    )
    assert extras.relations == {
        "dependants": [
            {
                "hetu": "311211A9527",
                "last_name": "Lapsinen",
                "first_names": "Lilja",
                "birth_date": "2011-12-31",
            }
        ],
        "children": [
            {"hetu": "311211A9527", "last_name": "Lapsinen", "first_names": None, "birth_date": None},
            {"hetu": "010110A951P", "last_name": None, "first_names": "Mir", "birth_date": None},
        ],
    }
    assert "Lilja" not in repr(extras)


def test_unmapped_blocks_go_to_extra_as_generic_json() -> None:
    extras = read_person_extras(wrapper(FIXTURES / "operations" / "relations-vanhempi.xml"), "PERUSLT1")
    assert extras.extra == {
        "VakinainenAsuinpaikka": {"Asuinpaikantunnus": "90000130991H045"},
        "Edunvalvonta": {"@tyyppi": "ei", "#text": "0"},
    }


def test_a_product_that_carries_a_relation_gives_an_empty_list_when_there_is_none() -> None:
    extras = read_person_extras(
        wrapper(FIXTURES / "operations" / "relations-huoltaja-none.xml"), "huoltaja-huollettavat"
    )
    assert extras.relations == {"dependants": []}
    assert extras.extra is None


def test_a_product_without_relations_has_no_relation_keys() -> None:
    extras = read_person_extras(wrapper(FIXTURES / "perussanoma1-found.xml"), "PERUSSANOMA 1")
    assert extras.relations == {}


def test_a_relation_product_is_matched_ascii_case_insensitively_only() -> None:
    path = FIXTURES / "operations" / "relations-huoltaja-none.xml"
    assert read_person_extras(wrapper(path), "HUOLTAJA-HUOLLETTAVAT").relations == {"dependants": []}
    assert read_person_extras(wrapper(path), "HUOLTAJA-HUOLLETTAVAŤ").relations == {}


def test_the_echoed_search_criterion_is_read_for_the_satu_check() -> None:
    from xroad_vtj.vtj.relations import search_criterion

    data = (FIXTURES / "operations" / "relations-huoltaja-none.xml").read_bytes()
    with_satu = data.replace(
        b"<Paluukoodi",
        b"<Hakuperusteet><SahkoinenAsiointitunnus> 99999952L </SahkoinenAsiointitunnus></Hakuperusteet><Paluukoodi",
        1,
    )
    path = FIXTURES / "operations" / "relations-huoltaja-none.xml"
    assert search_criterion(wrapper(path), "SahkoinenAsiointitunnus") is None
    envelope = etree.fromstring(with_satu, PARSER)
    (body,) = [c for c in envelope if etree.QName(c).localname == "Body"]
    assert search_criterion(body[0], "SahkoinenAsiointitunnus") == "99999952L"


PERSON_ANSWERS = [
    *sorted(FIXTURES.glob("*.xml")),
    FIXTURES / "operations" / "relations-vanhempi.xml",
    FIXTURES / "operations" / "relations-huoltaja-none.xml",
]


@pytest.mark.parametrize("path", PERSON_ANSWERS, ids=lambda p: p.name)
@pytest.mark.parametrize("product", ["PERUSSANOMA 1", "Vanhempi -lapset ja huollettavat"])
def test_the_person_readers_other_blocks_give_the_extras_a_walk_of_the_answer_gives(
    path: Path, product: str
) -> None:
    # The pipeline takes the extras from the blocks the person reader collected; they must be what a separate
    # walk of the answer finds.
    answer = wrapper(path)
    try:
        result = parse_henkilon_tunnus_kysely_response(answer)
    except InvalidUpstreamResponse:
        return
    if result.person is None:
        assert result.other_blocks == ()
        return
    assert person_extras(result.other_blocks, product) == read_person_extras(answer, product)
