"""The Finnish personal identity code (henkilötunnus, "hetu"): parse and validate it before sending.

Form: ``DDMMYY`` + century sign + 3-digit individual number + check character, exactly 11 characters.

- Century signs (since 1.1.2023): ``+`` 1800s; ``-`` ``Y`` ``X`` ``W`` ``V`` ``U`` 1900s; ``A`` to ``F``
  2000s. The sign is part of the identity: two codes may differ only by it, so it is kept as given.
- The check character is ``int(DDMMYY + NNN) % 31`` looked up in ``0123456789ABCDEFHJKLMNPRSTUVWXY``.
- Individual numbers 002-899 are ordinary, 900-999 temporary (every public test person); 000 and 001 are not
  issued and are refused.

Input must already be canonical: exactly 11 characters, uppercase, no surrounding whitespace. Lowercase is
refused rather than folded, because the code travels into VTJ and the audit log exactly as the caller sent it,
and a caller that sends lowercase has a bug worth seeing. Error messages say what is wrong and never contain
the value (it is personal data).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from xroad_vtj.errors import InvalidHetu

__all__ = ["CENTURY_SIGNS", "CHECK_CHARS", "Hetu", "check_char", "is_valid_hetu", "parse_hetu"]

CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"

CENTURY_SIGNS: dict[str, int] = {
    "+": 1800,
    "-": 1900,
    "Y": 1900,
    "X": 1900,
    "W": 1900,
    "V": 1900,
    "U": 1900,
    "A": 2000,
    "B": 2000,
    "C": 2000,
    "D": 2000,
    "E": 2000,
    "F": 2000,
}

# [0-9], not \d: \d also matches non-ASCII digits, which int() would happily accept.
_VALID_SHAPE = re.compile(r"[0-9]{6}[-+YXWVUABCDEF][0-9]{3}[0-9ABCDEFHJKLMNPRSTUVWXY]")
_DIGITS = re.compile(r"[0-9]{6}.[0-9]{3}.")


@dataclass(frozen=True, slots=True)
class Hetu:
    """A syntactically valid henkilötunnus. Whether VTJ knows it is a different question."""

    value: str
    birth_date: datetime.date
    century_sign: str
    individual_number: int
    check: str

    @property
    def is_temporary(self) -> bool:
        """Individual number 900-999: a temporary identifier (all public test persons use these)."""
        return self.individual_number >= 900

    @property
    def sex(self) -> str:
        """``"male"`` for an odd individual number, ``"female"`` for an even one (as assigned, pre-reform)."""
        return "male" if self.individual_number % 2 else "female"

    def __repr__(self) -> str:
        # Keeps the value out of tracebacks and debug logs that repr() their locals.
        return "Hetu(<redacted>)"


def check_char(birth_ddmmyy: str, individual_number: str) -> str:
    """The check character for six date digits and three individual-number digits."""
    return CHECK_CHARS[int(birth_ddmmyy + individual_number) % 31]


def parse_hetu(text: str) -> Hetu:
    """Parse and fully validate a henkilötunnus, or raise :class:`~xroad_vtj.errors.InvalidHetu`."""
    if not (isinstance(text, str) and len(text) == 11 and _VALID_SHAPE.fullmatch(text)):
        raise InvalidHetu(_shape_error(text))
    try:
        birth_date = datetime.date(CENTURY_SIGNS[text[6]] + int(text[4:6]), int(text[2:4]), int(text[0:2]))
    except ValueError:
        raise InvalidHetu("henkilötunnus does not start with a real calendar date") from None
    number = int(text[7:10])
    if number < 2:
        raise InvalidHetu("henkilötunnus individual number must be between 002 and 999")
    if CHECK_CHARS[int(text[0:6] + text[7:10]) % 31] != text[10]:
        raise InvalidHetu("henkilötunnus check character does not match")
    return Hetu(text, birth_date, text[6], number, text[10])


def _shape_error(text: object) -> str:
    """Why ``text`` does not even look like a henkilötunnus (the slow path, for the message only)."""
    if not isinstance(text, str):
        return "henkilötunnus must be a string"
    if len(text) != 11:
        return "henkilötunnus must be exactly 11 characters"
    if not _DIGITS.fullmatch(text):
        return "henkilötunnus must have digits in positions 1-6 and 8-10 (DDMMYYCNNNX)"
    if text[6] not in CENTURY_SIGNS:
        return "henkilötunnus has an unknown century sign (allowed: + - Y X W V U A B C D E F)"
    return "henkilötunnus check character must be a digit or one of ABCDEFHJKLMNPRSTUVWXY"


def is_valid_hetu(text: str) -> bool:
    """True when :func:`parse_hetu` would accept ``text``."""
    try:
        parse_hetu(text)
    except InvalidHetu:
        return False
    return True
