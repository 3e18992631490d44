"""The VTJ query interface, sans-I/O: henkilötunnus validation, request building, lenient response parsing."""

from xroad_vtj.vtj.hetu import Hetu, is_valid_hetu, parse_hetu

__all__ = ["Hetu", "is_valid_hetu", "parse_hetu"]
