"""HenkilonTunnusKysely request body: element names, namespace, order, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from xroad_vtj.errors import InvalidHetu, InvalidRequest
from xroad_vtj.vtj.operations import build_henkilon_tunnus_kysely
from xroad_vtj.vtj.request import VTJ_NS

ARGS: dict[str, str] = {
    "product": "PERUSSANOMA 1",
    "username": "testuser",
    "password": "s3cret&<pw>",
    "end_user": "case-worker-42",
    "hetu": "010280-952L",
}


def build(**overrides: Any) -> etree._Element:
    return build_henkilon_tunnus_kysely(**{**ARGS, **overrides})


def test_wrapper_is_henkilon_tunnus_kysely_in_the_vtj_namespace() -> None:
    wrapper = build()
    assert wrapper.tag == f"{{{VTJ_NS}}}HenkilonTunnusKysely"
    assert etree.QName(wrapper).localname == "HenkilonTunnusKysely"
    assert wrapper.nsmap == {None: VTJ_NS}


def test_request_children_are_qualified_and_in_schema_order() -> None:
    (request,) = build()
    assert request.tag == f"{{{VTJ_NS}}}request"
    assert [(c.tag, c.text) for c in request] == [
        (f"{{{VTJ_NS}}}SoSoNimi", "PERUSSANOMA 1"),
        (f"{{{VTJ_NS}}}Kayttajatunnus", "testuser"),
        (f"{{{VTJ_NS}}}Salasana", "s3cret&<pw>"),
        (f"{{{VTJ_NS}}}Loppukayttaja", "case-worker-42"),
        (f"{{{VTJ_NS}}}Henkilotunnus", "010280-952L"),
    ]


def test_serialises_with_one_default_namespace_declaration_and_escaped_text() -> None:
    xml = etree.tostring(build(), encoding="unicode")
    assert xml == (
        f'<HenkilonTunnusKysely xmlns="{VTJ_NS}"><request><SoSoNimi>PERUSSANOMA 1</SoSoNimi>'
        "<Kayttajatunnus>testuser</Kayttajatunnus><Salasana>s3cret&amp;&lt;pw&gt;</Salasana>"
        "<Loppukayttaja>case-worker-42</Loppukayttaja><Henkilotunnus>010280-952L</Henkilotunnus>"
        "</request></HenkilonTunnusKysely>"
    )


def test_each_call_returns_an_independent_tree() -> None:
    first = build()
    second = build(hetu="260991-999R")
    first[0][4].text = "changed"
    assert second[0][4].text == "260991-999R"
    assert build()[0][4].text == "010280-952L"


def test_end_user_of_exactly_50_characters_is_accepted() -> None:
    assert build(end_user="x" * 50)[0][3].text == "x" * 50


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("end_user", "", "Loppukayttaja) must not be empty"),
        ("end_user", "   ", "Loppukayttaja) must not be empty"),
        ("end_user", "y" * 51, "at most 50 characters"),
        ("end_user", "bad\x00user", "Loppukayttaja) contains characters"),
        ("product", "", "SoSoNimi) must not be empty"),
        ("product", "PERUS\x07", "SoSoNimi) contains characters"),
        ("username", " ", "Kayttajatunnus) must not be empty"),
        ("password", "", "Salasana) must not be empty"),
        ("password", "pw\x1b", "Salasana) contains characters"),
    ],
)
def test_invalid_fields_are_refused_naming_the_field_not_the_value(
    field: str, value: str, reason: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        build(**{field: value})
    assert not isinstance(info.value, InvalidHetu)
    assert reason in str(info.value)
    if value.strip():
        assert value not in str(info.value)


@pytest.mark.parametrize("hetu", ["010280-952M", "010280-952l", "", "010280-952L "])
def test_invalid_hetu_is_refused_before_building(hetu: str) -> None:
    with pytest.raises(InvalidHetu):
        build(hetu=hetu)
