"""The VTJ query interface, sans-I/O: henkilötunnus validation, request building, lenient response parsing."""

from xroad_vtj.vtj.hetu import Hetu, is_valid_hetu, parse_hetu
from xroad_vtj.vtj.request import VTJ_NS, build_henkilon_tunnus_kysely

__all__ = ["VTJ_NS", "Hetu", "build_henkilon_tunnus_kysely", "is_valid_hetu", "parse_hetu"]
