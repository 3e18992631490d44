"""VTJ return codes (``Paluukoodi@koodi``) and the outcome each one means for a caller.

The codes and their meanings come from DVV's type catalogue (``PaluukoodiTekstiTyyppi`` in
``VTJHenkilotiedotKatalogi.xsd``); the outcome column is this project's reading of them:

- found: 0000, and 0018 (the person is under 15: a normal answer for nearly every client);
- not found: 0001 and 0006 (no data with this criterion), 0017 (not in the guardianship register: the
  guardianship products found nothing to return);
- passivated: 0002 (re-query once with the new active henkilötunnus when the response carries one);
- deceased: 0007;
- not disclosed: 0019;
- everything else, and every code not in the table, is ``upstream_rejected``: credentials, product, message
  errors, certificate checks, billing and internal errors are problems of the setup or of VTJ, not answers
  about the person.

Codes are compared after :func:`normalise_code`: surrounding whitespace is dropped, one to four digits are
zero-padded to four (``"1"`` is ``"0001"``), and a Unicode minus is read as ``-``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BODY_FAULT_NOT_FOUND", "RETURN_CODES", "Outcome", "describe", "normalise_code", "outcome_for"]


class Outcome(StrEnum):
    """What a query came to, in the words the service answers with."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    PASSIVATED = "passivated"
    DECEASED = "deceased"
    NOT_DISCLOSED = "not_disclosed"
    UPSTREAM_REJECTED = "upstream_rejected"


_R = Outcome.UPSTREAM_REJECTED

RETURN_CODES: dict[str, tuple[Outcome, str]] = {
    "0000": (Outcome.FOUND, "Search succeeded"),
    "0001": (Outcome.NOT_FOUND, "No data in VTJ for the search criterion"),
    "0002": (Outcome.PASSIVATED, "The identity code or electronic identifier used has been passivated"),
    "0003": (_R, "Password missing, wrong or expired"),
    "0004": (_R, "Username missing, wrong or expired"),
    "0005": (
        _R,
        "Error in the query (for example a mandatory criterion is missing, or more than one was found)",
    ),
    "0006": (Outcome.NOT_FOUND, "No data in VTJ for the search criterion (identifier)"),
    "0007": (Outcome.DECEASED, "The person is deceased; data is not returned unless agreed otherwise"),
    "0008": (_R, "Certificate revocation list check was requested but is not performed"),
    "0009": (_R, "Certificate validity check was requested but is not performed"),
    "0010": (_R, "An electronic identifier certificate was agreed but is missing"),
    "0011": (_R, "A username was agreed but a certificate was sent instead"),
    "0012": (_R, "The certificate has expired"),
    "0013": (_R, "The certificate is on the revocation list"),
    "0014": (_R, "Not a certificate, or not one accepted by VTJ"),
    "0015": (_R, "The certificate is not accepted by VTJ"),
    "0016": (_R, "The identity data of the query and the response differ"),
    "0017": (Outcome.NOT_FOUND, "No data in the guardianship register for the personal identity code"),
    "0018": (Outcome.FOUND, "The person is under 15 years old"),
    "0019": (Outcome.NOT_DISCLOSED, "The data cannot be disclosed"),
    "-1500": (_R, "Wrong username/password pair"),
    "-1505": (_R, "Error in the billing information"),
    "-1800": (_R, "Internal error of the VTJ web service"),
    "-1805": (_R, "The query does not conform to its schema"),
    "-1900": (_R, "Unknown product"),
    "-1901": (_R, "Unknown product"),
    "-1902": (_R, "The query is not valid (characters)"),
    "-1903": (_R, "The query is not valid (characters in the identification search XML)"),
    "-1904": (_R, "The query is not valid (end user missing)"),
    "-1905": (_R, "The query could not be processed (billing information error)"),
    "-1906": (_R, "The query could not be processed (other unexpected error)"),
}

# A body-level ``response/faultCode`` is how VTJ usually says "not found" (0001); 0006 says the same thing.
BODY_FAULT_NOT_FOUND = frozenset({"0001", "0006"})

_UNKNOWN = (_R, "Unknown return code")


def normalise_code(code: str) -> str:
    """The canonical spelling of a return code as it appears in :data:`RETURN_CODES`."""
    code = code.strip().replace("\u2212", "-")
    if 0 < len(code) < 4 and code.isascii() and code.isdigit():
        return code.zfill(4)
    return code


def outcome_for(code: str) -> Outcome:
    """The outcome of a (normalised) return code; an unknown code is ``upstream_rejected``."""
    return RETURN_CODES.get(code, _UNKNOWN)[0]


def describe(code: str) -> str:
    """An English description of a (normalised) return code, safe to log."""
    return RETURN_CODES.get(code, _UNKNOWN)[1]
