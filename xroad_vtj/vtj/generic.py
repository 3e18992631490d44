"""VTJ content as generic JSON, for the parts of an answer that no typed field maps.

The rules, one function for ``person.extra`` and for the ``data`` of building, property and identification
answers:

- keys are element local names (namespaces dropped); attributes are ``"@name"`` (local name too);
- text is trimmed; an element with neither text nor attributes nor non-empty children is absent, and so is an
  attribute whose value is empty after trimming;
- an element with text only is its text; with attributes (or children) and text, the text is ``"#text"``;
- a name that occurs more than once among siblings becomes a list (of the non-empty occurrences), at the place
  of its first occurrence; dict order is document order.

Input comes from the hardened message parser (no DTD, no entities, depth bounded by libxml2), so recursion is
bounded. Nothing here logs or raises on content.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree

__all__ = ["children_json", "content_json", "element_json", "local_name"]


def local_name(tag: object) -> str:
    """An element's name without its namespace; comments and processing instructions (whose tag is not a
    string) have none."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _own_text(element: etree._Element) -> str | None:
    # The element's own text pieces (before and between its children); children's text is theirs.
    pieces = [element.text or ""]
    pieces.extend(child.tail or "" for child in element)
    text = "".join(pieces).strip()
    return text or None


def _attributes(element: etree._Element, into: dict[str, Any]) -> None:
    for name, value in element.attrib.items():
        value = str(value).strip()
        if value:
            into["@" + local_name(str(name))] = value


def _add(into: dict[str, Any], name: str, value: Any, repeated: set[str]) -> None:
    if name not in into:
        into[name] = value
    elif name in repeated:
        into[name].append(value)
    else:
        into[name] = [into[name], value]
        repeated.add(name)


def children_json(children: Iterable[etree._Element], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Elements (siblings, in document order) as one object of their non-empty values."""
    out: dict[str, Any] = {} if into is None else into
    repeated: set[str] = set()
    for child in children:
        value = element_json(child)
        if value is not None:
            _add(out, local_name(child.tag), value, repeated)
    return out


def content_json(element: etree._Element, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The element's attributes and non-empty child elements as one object (the element's own name dropped);
    children whose local name is in ``exclude`` are left out."""
    out: dict[str, Any] = {}
    _attributes(element, out)
    children = (c for c in element.iterchildren(etree.Element) if local_name(c.tag) not in exclude)
    return children_json(children, out)


def element_json(element: etree._Element) -> Any:
    """One element's value: a string, an object, or None when it carries nothing."""
    text = _own_text(element)
    if not element.attrib and not len(element):
        return text
    out = content_json(element)
    if text is not None:
        if not out:
            return text
        out["#text"] = text
    return out or None
