"""The HenkilonTunnusKysely request body (person by henkilötunnus), built as an lxml element.

Shape, as DVV's schema (``query.xsd``, ``elementFormDefault="qualified"``) defines it: the wrapper and every
child are in the namespace ``http://xml.vrk.fi/ws/vtj/vtjkysely/1``, declared once as the default namespace on
the wrapper, and the children follow the schema's sequence order::

    <HenkilonTunnusKysely xmlns="http://xml.vrk.fi/ws/vtj/vtjkysely/1">
      <request>
        <SoSoNimi/> <Kayttajatunnus/> <Salasana/> <Loppukayttaja/> <Henkilotunnus/>
      </request>
    </HenkilonTunnusKysely>

``SoSoNimi`` is the product agreed in the data permit, ``Kayttajatunnus``/``Salasana`` the organisation's VTJ
credentials (so the built tree is a secret), ``Loppukayttaja`` the person on whose behalf the query is made
(mandatory, at most 50 characters). The optional schema elements (``Laskutustiedot``, certificate fields)
are left out. Each call returns a fresh tree (a copy of one built at import); callers may move or change it.
"""

from __future__ import annotations

import copy

from lxml import etree

from xroad_vtj.errors import InvalidRequest
from xroad_vtj.vtj.hetu import parse_hetu

__all__ = ["END_USER_MAX_LENGTH", "VTJ_NS", "build_henkilon_tunnus_kysely"]

VTJ_NS = "http://xml.vrk.fi/ws/vtj/vtjkysely/1"
END_USER_MAX_LENGTH = 50

_FIELDS = ("SoSoNimi", "Kayttajatunnus", "Salasana", "Loppukayttaja", "Henkilotunnus")
_FIELD_NAMES = (
    "VTJ product (SoSoNimi)",
    "VTJ username (Kayttajatunnus)",
    "VTJ password (Salasana)",
    "end user (Loppukayttaja)",
    "henkilötunnus",
)


def _template() -> etree._Element:
    wrapper = etree.Element(f"{{{VTJ_NS}}}HenkilonTunnusKysely", nsmap={None: VTJ_NS})  # type: ignore[dict-item]
    request = etree.SubElement(wrapper, f"{{{VTJ_NS}}}request")
    for name in _FIELDS:
        etree.SubElement(request, f"{{{VTJ_NS}}}{name}")
    return wrapper


# Copying a finished tree is about three times faster than building one element by element (about 6 µs).
_TEMPLATE = _template()


def build_henkilon_tunnus_kysely(
    *, product: str, username: str, password: str, end_user: str, hetu: str
) -> etree._Element:
    """Build the ``HenkilonTunnusKysely`` body element.

    Raises :class:`~xroad_vtj.errors.InvalidHetu` for an invalid henkilötunnus and
    :class:`~xroad_vtj.errors.InvalidRequest` when a mandatory field is empty, the end user is longer than 50
    characters, or a value holds characters XML cannot carry. Messages name the field, never its value.
    """
    parse_hetu(hetu)
    if not product.strip():
        raise InvalidRequest("VTJ product (SoSoNimi) must not be empty")
    if not username.strip():
        raise InvalidRequest("VTJ username (Kayttajatunnus) must not be empty")
    if not password:
        raise InvalidRequest("VTJ password (Salasana) must not be empty")
    if not end_user.strip():
        raise InvalidRequest("end user (Loppukayttaja) must not be empty")
    if len(end_user) > END_USER_MAX_LENGTH:
        raise InvalidRequest(f"end user (Loppukayttaja) must be at most {END_USER_MAX_LENGTH} characters")

    wrapper = copy.copy(_TEMPLATE)  # lxml copies the whole subtree
    for element, value, field in zip(
        wrapper[0], (product, username, password, end_user, hetu), _FIELD_NAMES, strict=True
    ):
        try:
            element.text = value
        except ValueError:
            # lxml refuses control characters and lone surrogates; the message names the field, not the value.
            raise InvalidRequest(f"{field} contains characters that XML cannot carry") from None
    return wrapper
