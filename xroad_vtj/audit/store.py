"""The audit store interface and what every backend shares.

A store is an append-only, hash-chained log of records (see :mod:`xroad_vtj.audit.chain`). A query is two
records, its intent (durable before the query leaves) and its outcome; a refusal is one record. Backends
implement a handful of primitives (append bodies with group commit, fetch rows); the record format,
encryption, search assembly and the background checkpoint task live here."""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import iso
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.keys import Keyring, new_key_text, read_key_file, write_private
from xroad_vtj.audit.records import Intent, Outcome, Refusal
from xroad_vtj.audit.signing import create_signing_identity
from xroad_vtj.audit.verify import ChainResult, VerifyReport
from xroad_vtj.errors import AuditUnavailable, ConfigError

if TYPE_CHECKING:
    from xroad_vtj.metrics import Metrics

log = structlog.get_logger("xroad_vtj.audit")


def load_keyring(config: AuditConfig) -> Keyring:
    if config.data_key_file is None:
        raise ConfigError("audit.data_key_file is required")
    current = read_key_file(config.data_key_file, "audit.data_key_file")
    previous = tuple(
        read_key_file(p, "audit.previous_data_key_files") for p in config.previous_data_key_files
    )
    return Keyring(current, previous)


def ensure_embedded_keys(config: AuditConfig) -> list[str]:
    """Create the SQLite default key files that do not exist yet; returns the names of the files created."""
    created: list[str] = []
    if config.data_key_file is not None and not config.data_key_file.exists():
        write_private(config.data_key_file, new_key_text().encode())
        created.append(str(config.data_key_file))
    key, cert = config.signing_key_file, config.signing_cert_file
    if key is not None and cert is not None and not key.exists() and not cert.exists():
        create_signing_identity(key, cert)
        created += [str(key), str(cert)]
    if config.checkpoint_dir is not None:
        config.checkpoint_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return created


class AuditStore(abc.ABC):
    """Append-only, tamper-evident audit log; every method raises :class:`AuditUnavailable` on failure."""

    def __init__(self, config: AuditConfig, *, instance: str, metrics: Metrics | None = None) -> None:
        self.config = config.with_defaults()
        self.instance = instance
        self.metrics = metrics
        self._keyring: Keyring | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Create/migrate (SQLite) or check (PostgreSQL) the schema, load keys, start periodic checkpoints."""
        if self.config.backend == "sqlite":
            created = ensure_embedded_keys(self.config)
            if created:
                log.warning("audit_keys_created", files=created, hint="configure audit.*_file for production")
        self._keyring = load_keyring(self.config)
        await self._open_backend()

    async def close(self) -> None:
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_task
            self._checkpoint_task = None
        await self._close_backend()

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise AuditUnavailable("the audit store is not open")
        return self._keyring

    # --- appends -------------------------------------------------------------------------------------

    async def append_intent(self, intent: Intent) -> str:
        audit_id = codec.new_audit_id()
        await self._append_counted("intent", codec.intent_body(intent, audit_id, self.instance, self.keyring))
        return audit_id

    async def append_outcome(self, audit_id: str, outcome: Outcome) -> None:
        await self._append_counted("outcome", codec.outcome_body(audit_id, self.instance, outcome))

    async def append_refusal(self, refusal: Refusal) -> str:
        audit_id = codec.new_audit_id()
        await self._append_counted(
            "refusal", codec.refusal_body(refusal, audit_id, self.instance, self.keyring)
        )
        return audit_id

    async def _append_counted(self, kind: str, body: str) -> int:
        try:
            seq = await self._append(body)
        except AuditUnavailable:
            if self.metrics is not None:
                self.metrics.audit_append_failures.inc()
            raise
        if self.metrics is not None:
            self.metrics.audit_appends.labels(kind).inc()
        return seq

    # --- reads ---------------------------------------------------------------------------------------

    async def search(
        self,
        *,
        xroad_id: str | None = None,
        end_user: str | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Queries (intent + newest outcome) and refusals matching every given filter, oldest first.

        ``since`` is inclusive, ``until`` exclusive, both on ``requested_at``. ``subject`` is matched through
        the blind index under every configured data key.
        """
        indexes = self.keyring.blind_indexes(subject) if subject is not None else None
        rows = await self._search_rows(
            xroad_id=xroad_id,
            end_user=end_user,
            subject_indexes=indexes,
            since=codec.time_bound(since),
            until=codec.time_bound(until),
            limit=max(0, limit),
        )
        outcomes = await self._outcomes_for([aid for _, aid, kind, _ in rows if kind == "intent"])
        keyring = self.keyring
        return [codec.search_result(seq, body, outcomes.get(aid), keyring) for seq, aid, _, body in rows]

    @abc.abstractmethod
    async def ping(self) -> None:
        """A cheap round trip through the write path; raises :class:`AuditUnavailable`."""

    @abc.abstractmethod
    async def mark_unfinished_unknown(self, older_than: datetime | None = None) -> int:
        """Append an ``outcome_unknown`` outcome to every intent that has none and that either was written by
        this instance (same ``instance`` name) or was requested before ``older_than``; returns how many.

        Call it at start-up. With one replica (SQLite, or a default instance name that changes per process)
        pass ``older_than=now``: every open intent is then a query of a dead process. With several replicas
        sharing PostgreSQL pass ``now - (query deadline + shutdown grace)`` so that another replica's
        in-flight queries are left alone; the instance rule covers this replica's own ones when its name is
        stable."""

    @abc.abstractmethod
    async def count_queries(
        self, *, since: datetime, caller: str | None = None, end_user: str | None = None
    ) -> int:
        """Intents (queries sent or about to be sent) requested at or after ``since``."""

    async def count_distinct_subjects(self, *, since: datetime, caller: str | None, end_user: str) -> int:
        """Distinct subjects asked by ``end_user`` (of ``caller``) since ``since``, through the blind index.

        Just after a data key rotation one person may count twice (two keys, two indexes): quotas err on the
        strict side.
        """
        return await self._count_distinct_subjects(since=iso(since), caller=caller, end_user=end_user)

    async def verify(self) -> VerifyReport:
        """Check every record's hash and the chain (and, when configured, the checkpoints)."""
        chain = await self._check_chain()
        return VerifyReport(
            records=chain.records,
            first_seq=chain.first_seq,
            last_seq=chain.last_seq,
            head_hash=chain.last_hash,
            problem=chain.problem,
            bad_seq=chain.bad_seq,
        )

    # --- backend primitives --------------------------------------------------------------------------

    @abc.abstractmethod
    async def _check_chain(self, remember: Collection[int] = ()) -> ChainResult:
        """Walk the whole chain (from the retention anchor, if old periods were removed)."""

    @abc.abstractmethod
    async def _open_backend(self) -> None: ...

    @abc.abstractmethod
    async def _close_backend(self) -> None: ...

    @abc.abstractmethod
    async def _append(self, body: str) -> int:
        """Append one record; returns its seq once it is durably committed (group commit with others)."""

    @abc.abstractmethod
    async def _search_rows(
        self,
        *,
        xroad_id: str | None,
        end_user: str | None,
        subject_indexes: Sequence[str] | None,
        since: str | None,
        until: str | None,
        limit: int,
    ) -> list[tuple[int, str, str, str]]:
        """Intent and refusal rows ``(seq, audit_id, kind, body)`` matching the filters, by seq."""

    @abc.abstractmethod
    async def _outcomes_for(self, audit_ids: Sequence[str]) -> dict[str, str]:
        """The newest outcome body of each audit id that has one."""

    @abc.abstractmethod
    async def _count_distinct_subjects(self, *, since: str, caller: str | None, end_user: str) -> int: ...


def open_store(config: AuditConfig, *, instance: str, metrics: Metrics | None = None) -> AuditStore:
    """The store for ``config.backend``; call ``await store.open()`` before use."""
    if config.backend == "sqlite":
        from xroad_vtj.audit.sqlite_store import SqliteAuditStore

        return SqliteAuditStore(config, instance=instance, metrics=metrics)
    if config.backend == "postgresql":
        raise AuditUnavailable("the PostgreSQL audit store is not in this build yet")
    raise ConfigError("audit.backend must be sqlite or postgresql")
