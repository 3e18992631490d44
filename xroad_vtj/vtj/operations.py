"""The operations of DVV's VTJ query interface: request bodies and the reading of answers without a typed model.

Every request body has one shape (``query.xsd``, X-Road flavour)::

    <Operation xmlns="http://xml.vrk.fi/ws/vtj/vtjkysely/1"><request>
      <SoSoNimi/> <Kayttajatunnus/> <Salasana/> <Loppukayttaja/> ...operation fields...
    </request></Operation>

so one builder serves all of them: the operation name and its fields (in schema order) are data. The answer of
a building, property or identification query is ``<Operation>Response`` = ``request`` (echo) + ``response``,
whose content is whatever the product defines (``xsd:any``); it is read into an outcome and generic JSON
(:mod:`xroad_vtj.vtj.generic`):

1. ``response/faultCode`` non-empty: ``0001``/``0006`` ``not_found``, anything else ``upstream_rejected``.
2. Else the first ``Paluukoodi@koodi`` among the children of ``response``'s child elements (where VTJ puts it
   in every answer document) decides through :mod:`xroad_vtj.vtj.codes`.
3. Else ``found`` when ``response`` holds any element, and :class:`InvalidUpstreamResponse` when it is empty.

``data`` is ``response``'s content as generic JSON; only for ``found``-like outcomes (never for a refusal).
``HaeTuotteenSkeema`` answers ``response`` holding the schema document, returned as bytes.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from xroad_vtj.errors import InvalidRequest, InvalidUpstreamResponse, UpstreamRejected
from xroad_vtj.vtj.codes import BODY_FAULT_NOT_FOUND, Outcome, normalise_code, outcome_for
from xroad_vtj.vtj.generic import content_json, local_name
from xroad_vtj.vtj.hetu import parse_hetu
from xroad_vtj.vtj.request import END_USER_MAX_LENGTH, VTJ_NS
from xroad_vtj.vtj.response import henkilo_protected, merged_return_code

__all__ = [
    "BUILDING_QUERY",
    "BUILDING_SEARCH",
    "OPERATIONS",
    "PERSON_QUERY",
    "PERSON_SEARCH",
    "PROPERTY_QUERY",
    "PROPERTY_SEARCH",
    "SCHEMA_QUERY",
    "GenericResult",
    "build_henkilon_tunnus_kysely",
    "build_operation_body",
    "build_schema_body",
    "named_objects",
    "parse_generic_response",
    "parse_schema_response",
]

PERSON_QUERY = "HenkilonTunnusKysely"
PERSON_SEARCH = "HenkilonTunnistusKysely"
BUILDING_QUERY = "RakennuksenTunnusKysely"
BUILDING_SEARCH = "RakennuksenTunnistusKysely"
PROPERTY_QUERY = "KiinteistonTunnusKysely"
PROPERTY_SEARCH = "KiinteistonTunnistusKysely"
SCHEMA_QUERY = "HaeTuotteenSkeema"

OPERATIONS: tuple[str, ...] = (
    PERSON_QUERY,
    PERSON_SEARCH,
    BUILDING_QUERY,
    BUILDING_SEARCH,
    PROPERTY_QUERY,
    PROPERTY_SEARCH,
    SCHEMA_QUERY,
)

# The fields each operation may carry after the four common ones, in schema order (query.xsd).
OPERATION_FIELDS: dict[str, tuple[str, ...]] = {
    PERSON_QUERY: ("Henkilotunnus", "SahkoinenAsiointitunnus"),
    PERSON_SEARCH: ("HakuXml",),
    BUILDING_QUERY: ("Rakennustunnus", "Huoneistotunnus"),
    BUILDING_SEARCH: ("HakuXml",),
    PROPERTY_QUERY: ("Kiinteistotunnus",),
    PROPERTY_SEARCH: ("HakuXml",),
}

_COMMON = ("SoSoNimi", "Kayttajatunnus", "Salasana", "Loppukayttaja")
_FIELD_NAMES = {
    "SoSoNimi": "VTJ product (SoSoNimi)",
    "Kayttajatunnus": "VTJ username (Kayttajatunnus)",
    "Salasana": "VTJ password (Salasana)",
    "Loppukayttaja": "end user (Loppukayttaja)",
}


def _set_text(element: etree._Element, value: str, field: str) -> None:
    try:
        element.text = value
    except ValueError:
        # lxml refuses control characters and lone surrogates; the message names the field, not the value.
        raise InvalidRequest(
            f"{_FIELD_NAMES.get(field, field)} contains characters that XML cannot carry"
        ) from None


def build_operation_body(
    operation: str,
    *,
    product: str,
    username: str,
    password: str,
    end_user: str,
    fields: Sequence[tuple[str, str]],
    namespace: str = VTJ_NS,
    wrap_request: bool = True,
    element_name: str | None = None,
) -> etree._Element:
    """The body element of ``operation`` with the common fields and ``fields`` (name, value) in schema order.

    ``fields`` must be the operation's own fields in the order of :data:`OPERATION_FIELDS` (a programming error
    otherwise). ``namespace``/``wrap_request``/``element_name`` serve the direct route's flat form (see
    :mod:`xroad_vtj.vtj.soso`). HakuXml text is escaped by the serialiser like any other text.
    """
    allowed = OPERATION_FIELDS.get(operation)
    if allowed is None:
        raise ValueError("not a query operation")
    given = [name for name, _ in fields]
    if [n for n in allowed if n in given] != given:
        raise ValueError("fields are not the operation's own fields in schema order")
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
    names = (*_COMMON, *(name for name, _ in fields))
    wrapper = copy.copy(_template(namespace, element_name or operation, wrap_request, names))
    parent = wrapper[0] if wrap_request else wrapper
    for element, name, value in zip(
        parent, names, (product, username, password, end_user, *(v for _, v in fields)), strict=True
    ):
        _set_text(element, value, name)
    return wrapper


def build_henkilon_tunnus_kysely(
    *, product: str, username: str, password: str, end_user: str, hetu: str
) -> etree._Element:
    """The person query by henkilötunnus: :func:`build_operation_body` after the hetu is validated
    (:class:`~xroad_vtj.errors.InvalidHetu` otherwise). Kept for the benchmarks and callers that build one
    person query; the pipeline calls :func:`build_operation_body` itself."""
    parse_hetu(hetu)
    return build_operation_body(
        PERSON_QUERY,
        product=product,
        username=username,
        password=password,
        end_user=end_user,
        fields=(("Henkilotunnus", hetu),),
    )


@functools.cache
def _template(
    namespace: str, element_name: str, wrap_request: bool, names: tuple[str, ...]
) -> etree._Element:
    # Copying a finished tree is several times faster than building one element by element. The keys come from
    # this module's own tables (operations and their field names), so the cache stays small.
    wrapper = etree.Element(f"{{{namespace}}}{element_name}", nsmap={None: namespace})  # type: ignore[dict-item]
    parent = etree.SubElement(wrapper, f"{{{namespace}}}request") if wrap_request else wrapper
    for name in names:
        etree.SubElement(parent, f"{{{namespace}}}{name}")
    return wrapper


def build_schema_body(
    product: str,
    kind: int,
    *,
    namespace: str = VTJ_NS,
    wrap_request: bool = True,
    element_name: str = SCHEMA_QUERY,
    kind_field: str = "Laji",
) -> etree._Element:
    """``HaeTuotteenSkeema``: the product (``SoSoNimi``) and the schema kind (``Laji``, an integer)."""
    if not product.strip():
        raise InvalidRequest("VTJ product (SoSoNimi) must not be empty")
    wrapper = etree.Element(f"{{{namespace}}}{element_name}", nsmap={None: namespace})  # type: ignore[dict-item]
    parent = etree.SubElement(wrapper, f"{{{namespace}}}request") if wrap_request else wrapper
    _set_text(etree.SubElement(parent, f"{{{namespace}}}SoSoNimi"), product, "SoSoNimi")
    etree.SubElement(parent, f"{{{namespace}}}{kind_field}").text = str(int(kind))
    return wrapper


# --- answers ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenericResult:
    """What a building, property or identification query came to. ``data`` is personal data (repr hides it)."""

    outcome: Outcome
    return_code: str | None
    fault_code: str | None
    data: dict[str, Any] | None
    product: str | None  # sanomatunnus of the answer document, when it has one

    def __repr__(self) -> str:
        return f"GenericResult(outcome={self.outcome.value}, return_code={self.return_code})"


_DATA_OUTCOMES = frozenset({Outcome.FOUND, Outcome.DECEASED, Outcome.PASSIVATED})
_FAULT_ELEMENTS = frozenset({"faultCode", "faultString"})


def _text(element: etree._Element) -> str | None:
    text = etree.tostring(element, method="text", encoding="unicode", with_tail=False)
    return text.strip() or None


def _response_of(wrapper: etree._Element, operation: str) -> etree._Element:
    if local_name(wrapper.tag) != operation + "Response":
        raise InvalidUpstreamResponse(f"the SOAP body does not hold a {operation}Response")
    for child in wrapper.iterchildren(etree.Element):
        if local_name(child.tag) == "response":
            return child
    raise InvalidUpstreamResponse("the VTJ answer has no response element")


def parse_generic_response(wrapper: etree._Element, operation: str) -> GenericResult:
    """Read ``<operation>Response`` (already taken out of the SOAP body) into a :class:`GenericResult`."""
    response = _response_of(wrapper, operation)
    fault_code: str | None = None
    fault_string: str | None = None
    return_code: str | None = None
    product: str | None = None
    documents: list[etree._Element] = []  # the answer documents: everything but the fault elements
    for child in response.iterchildren(etree.Element):
        name = local_name(child.tag)
        # Real answers carry empty faultCode/faultString beside a document: they are never data.
        if name == "faultCode":
            fault_code = fault_code or _text(child)
            continue
        if name == "faultString":
            fault_string = fault_string or _text(child)
            continue
        documents.append(child)
        product = product or (child.get("sanomatunnus") or "").strip() or None
        for grandchild in child.iterchildren(etree.Element):
            if local_name(grandchild.tag) == "Paluukoodi":
                return_code = merged_return_code(return_code, grandchild)
    if fault_code is not None:
        outcome = (
            Outcome.NOT_FOUND
            if normalise_code(fault_code) in BODY_FAULT_NOT_FOUND
            else Outcome.UPSTREAM_REJECTED
        )
    elif return_code is not None:
        outcome = outcome_for(return_code)
    elif documents:
        outcome = Outcome.FOUND
    elif fault_string is not None:
        outcome = Outcome.UPSTREAM_REJECTED  # a fault without a code is still a fault, never a found answer
    else:
        raise InvalidUpstreamResponse("the VTJ answer's response element is empty")
    data = (
        content_json(response, exclude=_FAULT_ELEMENTS)
        if outcome in _DATA_OUTCOMES and fault_code is None and documents
        else None
    )
    return GenericResult(outcome, return_code, fault_code, data, product)


# The object a building or property query asks about: the element naming it in the answer document, and its
# identifier (also the request field VTJ echoes). Identifiers of other kinds inside it (a building's property, a
# property's buildings) are related objects, not the one answered.
_OBJECTS: dict[str, tuple[str, str]] = {
    BUILDING_QUERY: ("Rakennus", "Rakennustunnus"),
    PROPERTY_QUERY: ("Kiinteisto", "Kiinteistotunnus"),
}


def named_objects(wrapper: etree._Element, operation: str) -> tuple[str | None, tuple[str, ...]]:
    """For a building or property query: the identifier echoed in ``request`` (None when none is), and the
    identifiers the answer documents name their objects by (``response/*/Rakennus/Rakennustunnus``, or
    ``response/*/Kiinteisto/Kiinteistotunnus``). Other operations name no object: ``(None, ())``."""
    if operation not in _OBJECTS:
        return None, ()
    block, field = _OBJECTS[operation]
    echoed: str | None = None
    named: list[str] = []
    for part in wrapper.iterchildren(etree.Element):
        name = local_name(part.tag)
        if name == "request":
            for child in part.iterchildren(etree.Element):
                if local_name(child.tag) == field:
                    echoed = echoed or _text(child)
        elif name == "response":
            for document in part.iterchildren(etree.Element):
                for item in document.iterchildren(etree.Element):
                    if local_name(item.tag) != block:
                        continue
                    for child in item.iterchildren(etree.Element):
                        if local_name(child.tag) == field and (value := _text(child)) is not None:
                            named.append(value)
    return echoed, tuple(named)


# Under turvakielto a person found by criteria keeps only these blocks: who they are, not where they live.
_KEPT_UNDER_TURVAKIELTO = frozenset(
    {
        "Henkilotunnus",
        "Syntymaaika",
        "NykyinenSukunimi",
        "NykyisetEtunimet",
        "NykyinenKutsumanimi",
        "Sukupuoli",
        "Aidinkieli",
        "Kuolintiedot",
        "Turvakielto",
    }
)


def withhold_protected_persons(wrapper: etree._Element) -> bool:
    """Strip every ``Henkilo`` under turvakielto (read fail-closed) in the answer down to
    :data:`_KEPT_UNDER_TURVAKIELTO`, in place; True when any was stripped. Unknown blocks may hold contact
    data, so everything not named is removed (fail closed)."""
    withheld = False
    for henkilo in wrapper.iter("{*}Henkilo"):
        # Fail-closed, as for the person query: any TurvakieltoTieto anywhere in Henkilo that says 1 or cannot
        # be read as exactly 0, 1 or empty.
        if not henkilo_protected(henkilo):
            continue
        for block in list(henkilo.iterchildren(etree.Element)):
            if local_name(block.tag) not in _KEPT_UNDER_TURVAKIELTO:
                henkilo.remove(block)
                withheld = True
    return withheld


def parse_schema_response(wrapper: etree._Element) -> bytes:
    """The product schema document in a ``HaeTuotteenSkeemaResponse``, serialised as UTF-8 XML."""
    response = _response_of(wrapper, SCHEMA_QUERY)
    documents = list(response.iterchildren(etree.Element))
    if len(documents) != 1 or local_name(documents[0].tag) in ("faultCode", "faultString"):
        fault = next((d for d in documents if local_name(d.tag) == "faultCode"), None)
        if fault is not None:
            code = _text(fault)
            raise UpstreamRejected(
                "VTJ refused the schema request", return_code=normalise_code(code) if code else None
            )
        raise InvalidUpstreamResponse("the schema answer does not hold exactly one document")
    return etree.tostring(documents[0], encoding="UTF-8", xml_declaration=True, with_tail=False)
