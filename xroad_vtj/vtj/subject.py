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

Henkilötunnukset are compared in the form the audit indexes them: upper case, without surrounding blanks.
"""

from __future__ import annotations

from xroad_vtj.errors import InconsistentResponse
from xroad_vtj.vtj.codes import Outcome
from xroad_vtj.vtj.response import VtjResult

__all__ = ["check_subject"]


def _same(hetu: str) -> str:
    return hetu.strip().upper()


def check_subject(result: VtjResult, asked: str | None) -> None:
    """Raise :class:`InconsistentResponse` unless ``result`` is about the person ``asked``.

    ``asked`` is None when the person was asked by another identifier than a hetu (a SATU): then only the
    first rule applies, and the caller checks the echoed identifier itself.
    """
    person = result.person
    if result.outcome is Outcome.FOUND and (person is None or not result.person_hetus):
        raise InconsistentResponse("VTJ answered found without naming the person", field="Henkilo")
    if asked is None:
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
