"""What a person answer carries beyond :class:`~xroad_vtj.vtj.response.Person`: relations and unmapped blocks.

- Relations: ``Henkilo/Huoltaja`` (guardians), ``Henkilo/Huollettava`` (dependants) and ``Henkilo/Lapsi``
  (children), each read into ``{hetu, last_name, first_names, birth_date}`` with what VTJ gave (None where it
  gave nothing; ``birth_date`` ISO as the person's dates). A relation key is present when the product carries
  that block (:data:`PRODUCT_RELATIONS`; an empty list when the answer holds none) or when the answer holds
  the block anyway; absent otherwise.
- ``extra``: every child of ``Henkilo`` that neither :class:`Person` nor a relation maps, as generic JSON
  (:mod:`xroad_vtj.vtj.generic`); absent when there is nothing.

Reads the same wrapper the person reader reads (``HenkilonTunnusKyselyResponse``, or the direct route's
answer in that shape); pure, no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from xroad_vtj.vtj.generic import children_json, local_name
from xroad_vtj.vtj.response import _MAPPED_BLOCKS, _date

__all__ = [
    "PRODUCT_RELATIONS",
    "RELATION_ELEMENTS",
    "PersonExtras",
    "find_henkilo",
    "person_extras",
    "read_person_extras",
    "request_echo",
    "search_criterion",
]

# Relation block -> answer key.
RELATION_ELEMENTS: dict[str, str] = {
    "Huoltaja": "guardians",
    "Huollettava": "dependants",
    "Lapsi": "children",
}

# Products (compared ASCII case-insensitively, white space collapsed) -> the relation keys they carry.
PRODUCT_RELATIONS: dict[str, tuple[str, ...]] = {
    "huoltaja-huollettavat": ("dependants",),
    "huollettava-huoltajat": ("guardians",),
    "vanhempi -lapset ja huollettavat": ("dependants", "children"),
}

_PERSON_BLOCKS = frozenset(_MAPPED_BLOCKS) | {"Henkilotunnus"}  # what Person is read from
_MAPPED = _PERSON_BLOCKS | frozenset(RELATION_ELEMENTS)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@functools.lru_cache(maxsize=64)  # a deployment asks for a few products; the key is made once per product
def product_key(product: str) -> str:
    return " ".join(product.translate(_ASCII_LOWER).split())


@dataclass(frozen=True, slots=True, repr=False)
class PersonExtras:
    relations: dict[str, list[dict[str, str | None]]]  # only the keys that are present
    extra: dict[str, Any] | None

    def __repr__(self) -> str:
        return "PersonExtras(<redacted>)"


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element.iterchildren(etree.Element):
        if local_name(child.tag) == name:
            return child
    return None


def _leaf(element: etree._Element | None, *path: str) -> str | None:
    for name in path:
        if element is None:
            return None
        element = _child(element, name)
    if element is None:
        return None
    text = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    return text.strip() or None


def _relation(element: etree._Element) -> dict[str, str | None]:
    return {
        "hetu": _leaf(element, "Henkilotunnus"),
        "last_name": _leaf(element, "NykyinenSukunimi", "Sukunimi"),
        "first_names": _leaf(element, "NykyisetEtunimet", "Etunimet"),
        "birth_date": _date(_leaf(element, "Syntymaaika")),
    }


def find_henkilo(wrapper: etree._Element) -> etree._Element | None:
    """``response/VTJHenkiloVastaussanoma/Henkilo`` (the first of each), as the person reader takes it."""
    response = _child(wrapper, "response")
    sanoma = _child(response, "VTJHenkiloVastaussanoma") if response is not None else None
    return _child(sanoma, "Henkilo") if sanoma is not None else None


def search_criterion(wrapper: etree._Element, name: str) -> str | None:
    """``response/VTJHenkiloVastaussanoma/Hakuperusteet/<name>`` as VTJ echoes it (trimmed), if it does."""
    response = _child(wrapper, "response")
    sanoma = _child(response, "VTJHenkiloVastaussanoma") if response is not None else None
    return _leaf(sanoma, "Hakuperusteet", name) if sanoma is not None else None


def request_echo(wrapper: etree._Element, name: str) -> str | None:
    """``request/<name>`` as VTJ echoes the request it answers (trimmed), if it does and the field is not empty."""
    return _leaf(wrapper, "request", name)


def read_person_extras(wrapper: etree._Element, product: str) -> PersonExtras:
    """The extras of the person in ``wrapper`` (the first ``Henkilo``, as the person reader takes it)."""
    henkilo = find_henkilo(wrapper)
    if henkilo is None:
        return person_extras((), product)
    others = [c for c in henkilo.iterchildren(etree.Element) if local_name(c.tag) not in _PERSON_BLOCKS]
    return person_extras(others, product)


def person_extras(others: Iterable[etree._Element], product: str) -> PersonExtras:
    """The extras from ``Henkilo``'s children that :class:`~xroad_vtj.vtj.response.Person` does not map (in
    document order): :attr:`~xroad_vtj.vtj.response.VtjResult.other_blocks`, or as :func:`read_person_extras`
    finds them."""
    carried = PRODUCT_RELATIONS.get(product_key(product), ())
    relations: dict[str, list[dict[str, str | None]]] = {key: [] for key in carried}
    unmapped: list[etree._Element] = []
    for child in others:
        name = local_name(child.tag)
        key = RELATION_ELEMENTS.get(name)
        if key is not None:
            relation = _relation(child)
            if any(value is not None for value in relation.values()):
                relations.setdefault(key, []).append(relation)
        elif name not in _MAPPED:
            unmapped.append(child)
    extra = children_json(unmapped)
    return PersonExtras(relations, extra or None)
