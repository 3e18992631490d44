"""Is an answer about the person asked? Checked on every outcome that carries a person.

VTJ's own code for a mismatch is 0016; a provider, a proxy or a bug can also hand back another person's record
under any return code. The rules, for a result whose outcome is ``found``, ``deceased`` or ``passivated``:

- ``found`` must carry a person, and that person must have a ``Henkilotunnus``: a found answer that names no
  one cannot be shown to be about the person asked.
- ``found`` and ``deceased``: the person's henkilötunnus (the active one when several are given) is the one
  asked.
- ``passivated``: the asked (now passive) henkilötunnus is one of the person's; the new active one stands
  beside it.
- ``deceased`` or ``passivated`` without any person data carries no person and passes.

A person asked by SATU (``kind="satu"``) is named in the answer by a hetu the caller did not give, so the answer
must say which SATU it answers: when the outcome carries a person, ``Hakuperusteet/SahkoinenAsiointitunnus`` must
echo the SATU asked (a missing echo cannot be shown to be about the person asked), and an echoed criterion or
request field (``request/SahkoinenAsiointitunnus``) naming another SATU is refused in every outcome.

A building or property answer (:func:`check_object`) must not name another building or property than the one
asked, in its request echo or as the object of its answer document; one that names none passes.

Henkilötunnukset and SATUs are compared in the form the audit indexes them: upper case, without surrounding blanks.
"""

from __future__ import annotations

from typing import Literal

from xroad_vtj.errors import InconsistentResponse
from xroad_vtj.vtj.codes import Outcome
from xroad_vtj.vtj.identifiers import canonical_subject
from xroad_vtj.vtj.response import VtjResult

__all__ = ["check_object", "check_subject"]


def _same(hetu: str) -> str:
    return hetu.strip().upper()


def check_subject(
    result: VtjResult,
    asked: str | None,
    *,
    kind: Literal["hetu", "satu"] = "hetu",
    echoed_criterion: str | None = None,
    echoed_request: str | None = None,
) -> None:
    """Raise :class:`InconsistentResponse` unless ``result`` is about the person ``asked``.

    ``kind`` says what ``asked`` is. For a SATU, ``echoed_criterion`` is the answer's
    ``Hakuperusteet/SahkoinenAsiointitunnus`` and ``echoed_request`` its ``request/SahkoinenAsiointitunnus``
    (None where the answer carries none). ``asked`` None checks only that a found answer names someone.
    """
    person = result.person
    if result.outcome is Outcome.FOUND and (person is None or not result.person_hetus):
        raise InconsistentResponse("VTJ answered found without naming the person", field="Henkilo")
    if asked is None:
        return
    if kind == "satu":
        _check_satu(result, asked, echoed_criterion, echoed_request)
        return
    if person is None or result.outcome not in (Outcome.FOUND, Outcome.DECEASED, Outcome.PASSIVATED):
        return
    want = _same(asked)
    if result.outcome is Outcome.PASSIVATED:
        about_asked = want in {_same(h) for h in result.person_hetus}
    else:
        about_asked = person.hetu is not None and _same(person.hetu) == want
    if not about_asked:
        raise InconsistentResponse(
            "VTJ answered about another person than the one asked about", field="Henkilo"
        )


def _check_satu(result: VtjResult, asked: str, criterion: str | None, request: str | None) -> None:
    want = _same(asked)
    if request is not None and _same(request) != want:
        raise InconsistentResponse("VTJ echoed another request than the one sent", field="request")
    if criterion is not None and _same(criterion) != want:
        raise InconsistentResponse(
            "VTJ answered another search criterion than the one sent", field="Hakuperusteet"
        )
    if criterion is None and result.person is not None:
        # The person is named by a hetu the caller never gave: only the echo ties the answer to the SATU asked.
        raise InconsistentResponse(
            "VTJ answered about a person without echoing the identifier asked", field="Hakuperusteet"
        )


def check_object(asked: str, echoed: str | None, named: tuple[str, ...]) -> None:
    """Raise :class:`InconsistentResponse` when a building or property answer is about another object.

    ``echoed`` is the identifier in the answer's request echo, ``named`` those its documents name their objects
    by (:func:`xroad_vtj.vtj.operations.named_objects`). An answer that names no object passes (a not-found or
    refusal carries none); one naming any other than ``asked`` does not. Identifiers are compared in their
    canonical forms (a property in 14 digits, whichever way VTJ writes it).
    """
    want = canonical_subject(asked)
    if echoed is not None and canonical_subject(echoed) != want:
        raise InconsistentResponse("VTJ echoed another request than the one sent", field="request")
    if any(canonical_subject(value) != want for value in named):
        raise InconsistentResponse(
            "VTJ answered about another object than the one asked about", field="response"
        )
