"""Who may ask what: authentication, roles, the data-permit policy, quotas and turvakielto redaction.

Everything here runs before anything reaches X-Road. Quotas are counted from the audit store, not from process
memory, so that they hold across replicas sharing one PostgreSQL store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import unicodedata
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509

from xroad_vtj.config import CallerConfig
from xroad_vtj.errors import Forbidden, InvalidPurpose, QuotaExceeded, Unauthenticated

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


def end_user_key(end_user: str) -> str:
    """The canonical form quotas, the admission lock and the distinct-subject count use (NFKC, case-folded):
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


class Policy:
    def __init__(self, callers: tuple[CallerConfig, ...], store: AuditStore) -> None:
        self.callers = callers
        self.store = store
        self._admission: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @contextlib.asynccontextmanager
    async def admission(self, caller: CallerConfig, end_user: str) -> AsyncIterator[None]:
        """Serialise quota check + intent per (caller, end user) within this process.

        Across replicas the counts come from the shared store; two replicas admitting the same end user in the
        same few milliseconds can still pass a limit by one each (documented in the README).
        """
        key = (caller.name, end_user_key(end_user))
        lock = self._admission.get(key)
        if lock is None:
            lock = self._admission[key] = asyncio.Lock()
        async with lock:
            yield

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

    async def authorize_query(self, caller: CallerConfig, query: PersonQuery) -> None:
        """The caller's purpose form and quotas. Each other check is made once, elsewhere: the ``query`` role by
        the API before the body is read (``api/app.py``), the data permit (non-unique searches, the product in
        the permit's spelling) by ``QueryService._authorize_permit`` just before this."""
        if caller.purpose_pattern is not None and not caller.purpose_pattern.fullmatch(query.purpose):
            raise InvalidPurpose("purpose does not have the form this caller must use")
        await self._check_quotas(caller, query)

    async def _check_quotas(self, caller: CallerConfig, query: PersonQuery) -> None:
        q = caller.quotas
        now = datetime.now(UTC)
        minute, day = now - timedelta(minutes=1), now - timedelta(days=1)
        checks: list[tuple[int | None, Any, int, str]] = [
            (
                q.per_caller_per_minute,
                lambda: self.store.count_queries(since=minute, caller=caller.name),
                60,
                "per_caller_per_minute",
            ),
            (
                q.per_end_user_per_minute,
                lambda: self.store.count_queries(since=minute, caller=caller.name, end_user=query.end_user),
                60,
                "per_end_user_per_minute",
            ),
            (
                q.per_end_user_per_day,
                lambda: self.store.count_queries(since=day, caller=caller.name, end_user=query.end_user),
                3600,
                "per_end_user_per_day",
            ),
        ]
        for limit, count, retry_after, name in checks:
            if limit is not None and await count() >= limit:
                raise QuotaExceeded(f"quota {name} reached", quota=name, retry_after=retry_after)
        limit = q.distinct_subjects_per_end_user_per_day
        if limit is not None:
            distinct = await self.store.count_distinct_subjects(
                since=day, caller=caller.name, end_user=query.end_user
            )
            # A subject already asked about today does not count as a new one.
            if distinct >= limit and not await self._subject_seen(caller, query, day):
                raise QuotaExceeded(
                    "quota distinct_subjects_per_end_user_per_day reached",
                    quota="distinct_subjects_per_end_user_per_day",
                    retry_after=3600,
                )

    async def _subject_seen(self, caller: CallerConfig, query: PersonQuery, since: datetime) -> bool:
        # Refusals of the same person come back too (oldest first); a generous limit keeps them from hiding
        # the query that makes this person a known one.
        rows = await self.store.search(subject=query.hetu, end_user=query.end_user, since=since, limit=5000)
        return any(r.get("caller") == caller.name and r.get("kind") == "query" for r in rows)

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
