"""The VTJ query interface, sans-I/O: henkilötunnus validation, request building, lenient response parsing.

- :mod:`~xroad_vtj.vtj.hetu`: parse and validate a henkilötunnus before anything is sent.
- :mod:`~xroad_vtj.vtj.request`: the ``HenkilonTunnusKysely`` body element.
- :mod:`~xroad_vtj.vtj.response`: ``HenkilonTunnusKyselyResponse`` to :class:`VtjResult` and :class:`Person`.
- :mod:`~xroad_vtj.vtj.codes`: return codes (``Paluukoodi``) and the :class:`Outcome` each one means.
"""

from xroad_vtj.vtj.codes import RETURN_CODES, Outcome, describe, normalise_code, outcome_for
from xroad_vtj.vtj.hetu import Hetu, is_valid_hetu, parse_hetu
from xroad_vtj.vtj.operations import build_henkilon_tunnus_kysely
from xroad_vtj.vtj.request import END_USER_MAX_LENGTH, VTJ_NS
from xroad_vtj.vtj.response import (
    DATA_CATEGORIES,
    Address,
    ForeignAddress,
    Language,
    Municipality,
    Person,
    VtjResult,
    parse_henkilon_tunnus_kysely_response,
)

__all__ = [
    "DATA_CATEGORIES",
    "END_USER_MAX_LENGTH",
    "RETURN_CODES",
    "VTJ_NS",
    "Address",
    "ForeignAddress",
    "Hetu",
    "Language",
    "Municipality",
    "Outcome",
    "Person",
    "VtjResult",
    "build_henkilon_tunnus_kysely",
    "describe",
    "is_valid_hetu",
    "normalise_code",
    "outcome_for",
    "parse_henkilon_tunnus_kysely_response",
    "parse_hetu",
]
