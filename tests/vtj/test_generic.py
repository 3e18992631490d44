"""Generic JSON of VTJ content: the rules of §4, one by one."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from xroad_vtj.vtj.generic import content_json, element_json


def convert(xml: str) -> Any:
    return content_json(etree.fromstring(xml))


def test_local_names_are_keys_and_namespaces_are_dropped() -> None:
    assert convert('<r xmlns:a="urn:a"><a:Nimi>X</a:Nimi><Kunta xmlns="urn:b">091</Kunta></r>') == {
        "Nimi": "X",
        "Kunta": "091",
    }


def test_text_is_trimmed_and_empty_elements_and_attributes_are_absent() -> None:
    assert convert("<r><a>  x \n</a><b/><c>   </c><d><e/></d><f g=' '/></r>") == {"a": "x"}


def test_attributes_are_at_names_and_an_element_with_both_has_hash_text() -> None:
    assert convert('<r><P koodi="0000">Haku onnistui</P><Q koodi=" 1 "/></r>') == {
        "P": {"@koodi": "0000", "#text": "Haku onnistui"},
        "Q": {"@koodi": "1"},
    }


def test_repeated_names_become_a_list_at_their_first_place_in_document_order() -> None:
    value = convert("<r><h>1</h><x>a</x><h>2</h><h/><h>3</h></r>")
    assert value == {"h": ["1", "2", "3"], "x": "a"}
    assert list(value) == ["h", "x"]


def test_the_root_attributes_are_kept_and_nesting_is_followed() -> None:
    assert convert('<r s="P1"><a><b><c>deep</c></b></a></r>') == {"@s": "P1", "a": {"b": {"c": "deep"}}}


def test_mixed_content_keeps_its_own_text() -> None:
    assert element_json(etree.fromstring("<m>before <b>x</b> after</m>")) == {
        "b": "x",
        "#text": "before  after",
    }


@pytest.mark.parametrize("xml", ["<r/>", "<r>  </r>", "<r><a/><b> </b></r>"])
def test_an_element_with_nothing_in_it_is_none(xml: str) -> None:
    assert element_json(etree.fromstring(xml)) is None
