"""Who may ask what: authentication, roles, the data-permit policy, quotas and turvakielto redaction.

Everything here runs before anything reaches X-Road. Quotas count the intents of the audit log: in process
memory, loaded from the store and kept up to date with what other processes and replicas append (see
:mod:`xroad_vtj.audit.usage`), so that they hold across restarts and across replicas sharing one PostgreSQL
store without a store round trip on every query.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509

from xroad_vtj.audit.usage import MINUTE, CallerUsage, EndUserUsage, near_limit
from xroad_vtj.config import CallerConfig
from xroad_vtj.errors import (
    Forbidden,
    InvalidPurpose,
    QuotaExceeded,
    Unauthenticated,
    XRoadVtjError,
)

if TYPE_CHECKING:
    from xroad_vtj.audit.store import AuditStore
    from xroad_vtj.query import PersonQuery

# Fields that reveal where a person lives; withheld under turvakielto unless the caller is entitled to them.
PROTECTED_FIELDS = (
    "home_municipality",
    "permanent_address",
    "temporary_address",
    "postal_address",
    "foreign_address",
)

# Products that carry address data but no Turvakielto element: for these (only) an answer without any address
# means turvakielto. Other products (ASUKASLKM2, relation-only products) return no address for everyone.
SILENT_ADDRESS_PRODUCTS = frozenset({"perussanoma 1"})

_DUMMY_DIGEST = bytes(32)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """``text`` with A-Z lowered and nothing else changed (unlike ``casefold``, which makes ``ß`` ``ss``)."""
    return text.translate(_ASCII_LOWER)


def permitted_product(caller: CallerConfig, product: str) -> str | None:
    """The configured spelling of ``product`` in the caller's data permit, matched ignoring ASCII letter case
    only (``Perussanoma 1`` is ``PERUSSANOMA 1``, but ``PERUßANOMA 1`` or any other Unicode case mapping is
    not); None when the permit does not list it."""
    wanted = ascii_lower(product)
    return next((allowed for allowed in caller.products if ascii_lower(allowed) == wanted), None)


def permits_product(caller: CallerConfig, product: str) -> bool:
    """Whether the caller's data permit lists ``product`` (see :func:`permitted_product`)."""
    return permitted_product(caller, product) is not None


# Retry-After (seconds) of each quota's refusal
_RETRY_AFTER = {
    "per_caller_per_minute": 60,
    "per_end_user_per_minute": 60,
    "per_end_user_per_day": 3600,
    "distinct_subjects_per_end_user_per_day": 3600,
}


def end_user_key(end_user: str) -> str:
    """The canonical form quotas and the distinct-subject count use (NFKC, case-folded):
    ``Maija`` and ``MAIJA`` are one end user. The audit record and ``Loppukayttaja`` keep the text as sent."""
    return unicodedata.normalize("NFKC", end_user).casefold()


@dataclass(frozen=True, slots=True)
class PeerCertificate:
    """The caller's TLS client certificate, as the listener saw it."""

    subject: str
    fingerprint_sha256: str

    @classmethod
    def from_der(cls, der: bytes) -> PeerCertificate:
        cert = x509.load_der_x509_certificate(der)
        return cls(cert.subject.rfc4514_string(), hashlib.sha256(der).hexdigest())


@dataclass(slots=True)
class _Reservation:
    """One admitted query's place in the in-memory counts, given back if its intent could not be written."""

    caller: CallerUsage | None
    end_user: EndUserUsage | None
    at: float
    subject_index: str | None
    previous: float | None  # the subject's previous time (None: it was new)

    def release(self) -> None:
        if self.caller is not None:
            with contextlib.suppress(ValueError):
                self.caller.times.remove(self.at)
        if self.end_user is not None:
            self.end_user.undo(self.at, self.subject_index, self.previous)


@dataclass(slots=True)
class Admission:
    """One query between its quota check and its intent: where :meth:`Policy.authorize_query` puts the
    query's reservation, so that :meth:`Policy.admission` can give it back."""

    key: tuple[str, str]
    reservation: _Reservation | None = None


class Policy:
    def __init__(self, callers: tuple[CallerConfig, ...], store: AuditStore) -> None:
        self.callers = callers
        self.store = store
        # (caller, end user key) -> queries between quota check and intent: their states stay in memory
        self._admitted: dict[tuple[str, str], int] = {}

    @contextlib.asynccontextmanager
    async def admission(self, caller: CallerConfig, end_user: str) -> AsyncIterator[Admission]:
        """The span of one query from its quota check to its written intent.

        No lock: the check and the reservation that counts the query run without an await between them
        (:meth:`_check_quotas`), so simultaneous queries of one end user see each other's reservations and
        cannot all pass a limit, while their intents still share commits. When the block fails with one of
        our errors (a refusal, or the audit store could not write the intent) the reservation is given back;
        a query checked meanwhile may have been refused because of it, which errs on the strict side. Any
        other end (e.g. cancelled while the intent was being written) keeps it counted.
        """
        key = (caller.name, end_user_key(end_user))
        admitted = self._admitted
        admitted[key] = admitted.get(key, 0) + 1
        ticket = Admission(key)
        try:
            yield ticket
        except XRoadVtjError:
            if ticket.reservation is not None:
                ticket.reservation.release()
            raise
        finally:
            left = admitted[key] - 1
            if left:
                admitted[key] = left
            else:
                del admitted[key]

    # --- authentication -------------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None, peer: PeerCertificate | None) -> CallerConfig:
        """The caller named by a bearer token or, failing that, by its TLS client certificate."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("use 'Authorization: Bearer <token>'")
            digest = hashlib.sha256(token.strip().encode("utf-8")).digest()
            found: CallerConfig | None = None
            # Compare against every caller, so that timing does not reveal which hash is close.
            for caller in self.callers:
                if hmac.compare_digest(caller.token_sha256 or _DUMMY_DIGEST, digest) and caller.token_sha256:
                    found = caller
            if found is None:
                raise Unauthenticated("unknown bearer token")
            return found
        if peer is not None:
            for caller in self.callers:
                if caller.cert_fingerprint_sha256 and hmac.compare_digest(
                    caller.cert_fingerprint_sha256, peer.fingerprint_sha256
                ):
                    return caller
                if caller.cert_subject and caller.cert_subject == peer.subject:
                    return caller
            raise Unauthenticated("client certificate not registered for any caller")
        raise Unauthenticated("authentication required")

    @staticmethod
    def require_role(caller: CallerConfig, role: str) -> None:
        if role not in caller.roles:
            raise Forbidden(f"this endpoint needs the {role} role")

    # --- the data permit --------------------------------------------------------------------------------------

    async def authorize_query(
        self, caller: CallerConfig, query: PersonQuery, admission: Admission | None = None
    ) -> None:
        """The caller's purpose form and quotas; the query is counted in ``admission`` (see :meth:`admission`;
        without one its place cannot be given back). Each other check is made once, elsewhere: the ``query``
        role by the API before the body is read (``api/app.py``), the data permit (non-unique searches, the
        product in the permit's spelling) by ``QueryService._authorize_permit`` just before this."""
        if caller.purpose_pattern is not None and not caller.purpose_pattern.fullmatch(query.purpose):
            raise InvalidPurpose("purpose does not have the form this caller must use")
        await self._check_quotas(caller, query, admission)

    async def _check_quotas(
        self, caller: CallerConfig, query: PersonQuery, admission: Admission | None
    ) -> None:
        """Check every quota against the in-memory counts (:mod:`xroad_vtj.audit.usage`) and reserve the query.

        No store round trip in the common case: an end user's counts are read from the store once (first
        query in this process), and other writers' records arrive with this process's own commits. The store is
        asked first only when the knowledge is older than ``SYNC_SECONDS`` or a count is near its limit."""
        q = caller.quotas
        per_end_user = (
            q.per_end_user_per_minute,
            q.per_end_user_per_day,
            q.distinct_subjects_per_end_user_per_day,
        )
        if q.per_caller_per_minute is None and all(limit is None for limit in per_end_user):
            return
        store, ledger = self.store, self.store.usage
        key = (caller.name, end_user_key(query.end_user))
        state: EndUserUsage | None = None
        if any(limit is not None for limit in per_end_user):
            state = await store.end_user_usage(caller.name, key[1], query.end_user, self._admitted)
        subject_index: str | None = None
        if q.distinct_subjects_per_end_user_per_day is not None:
            subject_index = store.keyring.current.blind_index(query.hetu)
        if ledger.stale():
            await store.sync_usage()
        refusal = self._over_limit(caller, state, subject_index, near_only=True)
        if refusal == "near":  # close to a limit: other replicas' newest queries matter, so sync first
            await store.sync_usage()
            refusal = self._over_limit(caller, state, subject_index, near_only=False)
        if refusal is not None:
            raise QuotaExceeded(f"quota {refusal} reached", quota=refusal, retry_after=_RETRY_AFTER[refusal])
        at = time.time()
        caller_usage = ledger.caller(caller.name) if q.per_caller_per_minute is not None else None
        if caller_usage is not None:
            caller_usage.times.append(at)
        previous = state.add(at, subject_index) if state is not None else None
        if admission is not None:
            admission.reservation = _Reservation(caller_usage, state, at, subject_index, previous)

    def _over_limit(
        self, caller: CallerConfig, state: EndUserUsage | None, subject_index: str | None, *, near_only: bool
    ) -> str | None:
        """The quota this query would pass, ``"near"`` (with ``near_only``) when a count is close to its
        limit, or None."""
        q = caller.quotas
        now = time.time()
        counts: list[tuple[int | None, int, str]] = []
        if q.per_caller_per_minute is not None:
            usage = self.store.usage.caller(caller.name)
            usage.prune(now)
            counts.append((q.per_caller_per_minute, len(usage.times), "per_caller_per_minute"))
        if state is not None:
            state.prune(now)
            if q.per_end_user_per_minute is not None:
                minute = state.since(now - MINUTE)
                counts.append((q.per_end_user_per_minute, minute, "per_end_user_per_minute"))
            counts.append((q.per_end_user_per_day, len(state.times), "per_end_user_per_day"))
            # a subject already asked about today does not count as a new one
            if subject_index is not None and subject_index not in state.subjects:
                counts.append(
                    (
                        q.distinct_subjects_per_end_user_per_day,
                        len(state.subjects),
                        "distinct_subjects_per_end_user_per_day",
                    )
                )
        near = False
        for limit, count, name in counts:
            if limit is None:
                continue
            if count >= limit:
                return name
            near = near or near_limit(count, limit)
        return "near" if near and near_only else None

    # --- turvakielto ------------------------------------------------------------------------------------------

    @staticmethod
    def redact(
        caller: CallerConfig, person: dict[str, Any] | None, product: str = "PERUSSANOMA 1"
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """Withhold address data of a person under turvakielto from callers not entitled to it.

        Products without a Turvakielto element (PERUSSANOMA 1) signal the restriction only by returning a found
        person with no address and no home municipality at all; that is treated as turvakielto in force.
        """
        if person is None:
            return None, []
        restricted = person.get("non_disclosure") is True
        if (
            person.get("non_disclosure") is None
            and not person.get("deceased")
            and product.casefold() in SILENT_ADDRESS_PRODUCTS
        ):
            restricted = all(person.get(f) is None for f in PROTECTED_FIELDS)
        if not restricted:
            return person, []
        person = dict(person)
        person["non_disclosure"] = True
        if caller.reveal_protected_addresses:
            return person, []
        redacted = [f for f in PROTECTED_FIELDS if f in person]
        for f in redacted:
            del person[f]
        person["redacted"] = redacted
        return person, redacted
