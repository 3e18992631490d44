"""The audit store interface and what every backend shares.

A store is an append-only, hash-chained log of records (see :mod:`xroad_vtj.audit.chain`). A query is two
records, its intent (durable before the query leaves) and its outcome; a refusal is one record.

One core, a dialect per database. Here: the record bodies, appends and their metrics, searches, counts and
row reads (written once; the dialect gives its tables, placeholder, list match and ``_fetch``), verification,
the quota ledger (:mod:`usage`), the checkpoint task, and what runs in a writer transaction through the one
``write_call(call(tx: WriteTx))``: the unfinished-query sweep, quota syncs, stored checkpoints, prepared
appends. In :mod:`core`: what every writer does inside its transaction (bytes per job, the chaining loop,
noticing other writers, the sweep's reads and bodies); in :mod:`retention`: the retention plan. A dialect
(:mod:`sqlite_store`, :mod:`pg_store`) keeps only its connection handling, its writer's form (a thread, a
task) and its ``WriteTx``, its lock, its schema, its readiness probe, retention's privileges and the SQL that
differs."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import fcntl
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import structlog

from xroad_vtj.audit import checkpoint as checkpoint_doc
from xroad_vtj.audit import codec, core
from xroad_vtj.audit.chain import iso, utcnow
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.core import WriteTx
from xroad_vtj.audit.filters import count_where, search_where
from xroad_vtj.audit.keys import Keyring, new_key_text, read_key_file, write_private
from xroad_vtj.audit.mac import MacChecker
from xroad_vtj.audit.records import Intent, Outcome, Refusal
from xroad_vtj.audit.retention import RetentionResult
from xroad_vtj.audit.signing import create_signing_identity
from xroad_vtj.audit.usage import DAY, EndUserUsage, IntentRow, UsageLedger
from xroad_vtj.audit.verify import ChainResult, Row, VerifyReport
from xroad_vtj.audit.xmldsig import Signer
from xroad_vtj.errors import AuditUnavailable, ConfigError

if TYPE_CHECKING:
    from xroad_vtj.metrics import Metrics

log = structlog.get_logger("xroad_vtj.audit")

T = TypeVar("T")
SWEEP_EVENTS = 1000  # the newest events a sweep looks through for the previous sweep's bound


def load_signer(config: AuditConfig) -> Signer:
    if config.signing_key_file is None or config.signing_cert_file is None:
        raise ConfigError("audit.signing_key_file and audit.signing_cert_file are required")
    return Signer(config.signing_key_file, config.signing_cert_file, config.previous_signing_cert_files)


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
    assert config.sqlite_path is not None
    config.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    # several processes may start at once on a fresh directory: one creates, the others wait and read
    with open(config.sqlite_path.parent / ".audit-keys.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _create_missing(config)


def _create_missing(config: AuditConfig) -> list[str]:
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
        self._signer: Signer | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._checkpointing = False
        self._last_checkpoint_seq = 0  # an empty log needs no periodic checkpoint
        # the last append failed: ping then proves a real write works again before reporting ready
        self.degraded = False
        self.usage = UsageLedger()  # quota counts, exact as of the log (see :mod:`xroad_vtj.audit.usage`)
        self._loading: dict[tuple[str, str], asyncio.Future[EndUserUsage]] = {}  # end users being read
        # queries of this process between their intent and their outcome: how many appends group commit may
        # still expect soon (read by the writer to decide how long a batch may wait)
        self.open_queries = 0
        self.opened_head = 0  # the log's head seq when this store opened: its own records come after it
        self.sweep_done = asyncio.Event()  # set when a sweep (:meth:`mark_unfinished_unknown`) has finished

    def _observe_batch(self, records: int) -> None:
        if self.metrics is not None:
            self.metrics.audit_batch_records.observe(records)

    # --- lifecycle -----------------------------------------------------------------------------------

    async def open(self, *, checkpoints: bool = True) -> None:
        """Create/migrate (SQLite) or check (PostgreSQL) the schema and load the keys.

        With ``checkpoints`` (the service), a signed checkpoint is written every
        ``audit.checkpoint_interval_seconds`` when records were added, and one more on :meth:`close`.
        """
        self._prepare_keys()
        self._keyring = load_keyring(self.config)
        self._signer = load_signer(self.config)
        await self._open_backend()
        self.opened_head = self.usage.callers_through  # the head the ledger started from
        if checkpoints:
            self._checkpointing = True
            try:
                # At start, so that the head is covered (and the metric set) before the first interval passes.
                await self.checkpoint(only_if_new=True)
            except Exception as e:  # the loop tries again; readiness reports the store itself
                log.warning("audit_checkpoint_failed", error=type(e).__name__)
            self._checkpoint_task = asyncio.create_task(self._checkpoint_loop(), name="audit-checkpoints")

    async def close(self) -> None:
        """Stop the checkpoint task, write a final checkpoint (graceful shutdown), close the backend."""
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_task
            self._checkpoint_task = None
        if self._checkpointing:
            self._checkpointing = False
            try:
                await self.checkpoint(only_if_new=True)
            except Exception as e:  # shutdown goes on; verify still covers the records by the chain
                log.warning("audit_final_checkpoint_failed", error=type(e).__name__)
        await self._close_backend()

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            raise AuditUnavailable("the audit store is not open")
        return self._signer

    # --- checkpoints -----------------------------------------------------------------------------------

    async def checkpoint(self, *, only_if_new: bool = False) -> checkpoint_doc.Checkpoint | None:
        """Sign the current head, store it in the database and write it to ``audit.checkpoint_dir``.

        With ``only_if_new``, nothing is written when no record was added since this store's last checkpoint.
        """
        seq, head_hash = await self._head()
        if only_if_new and seq <= self._last_checkpoint_seq:
            # The newest checkpoint still covers the head: the evidence is current as of now, which is what
            # the stale-checkpoint alert asks (an idle night must not look like a broken signer).
            if self.metrics is not None:
                self.metrics.audit_last_checkpoint.set(utcnow().timestamp())
            return None
        created_at = utcnow()
        document = checkpoint_doc.sign(self.signer, seq, head_hash, created_at, self.instance)
        await self._store_checkpoint(seq, iso(created_at), document.decode())
        if self.config.checkpoint_dir is not None:
            name = checkpoint_doc.file_name(seq, created_at, self.instance)
            await asyncio.to_thread(checkpoint_doc.write_file, self.config.checkpoint_dir, name, document)
        self._last_checkpoint_seq = seq
        if self.metrics is not None:
            self.metrics.audit_last_checkpoint.set(created_at.timestamp())
        return checkpoint_doc.Checkpoint(seq, head_hash, created_at, self.instance, "database")

    async def _checkpoint_loop(self) -> None:
        interval = self.config.checkpoint_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.checkpoint(only_if_new=True)
            except Exception as e:  # the next round tries again; the metric's age shows it to monitoring
                log.warning("audit_checkpoint_failed", error=type(e).__name__)

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise AuditUnavailable("the audit store is not open")
        return self._keyring

    # --- appends -------------------------------------------------------------------------------------

    async def append_intent(self, intent: Intent) -> str:
        audit_id = codec.new_audit_id()
        body = codec.intent_body(intent, audit_id, self.instance, self.keyring)
        self.open_queries += 1  # until its outcome is appended (or the intent fails)
        try:
            await self._append_counted("intent", body)
        except BaseException:
            self.open_queries -= 1
            raise
        return audit_id

    async def append_outcome(self, audit_id: str, outcome: Outcome) -> None:
        self.open_queries = max(0, self.open_queries - 1)
        await self._append_counted(
            "outcome", codec.outcome_body(audit_id, self.instance, outcome, self.keyring)
        )

    async def append_refusal(self, refusal: Refusal) -> str:
        audit_id = codec.new_audit_id()
        await self._append_counted(
            "refusal", codec.refusal_body(refusal, audit_id, self.instance, self.keyring)
        )
        return audit_id

    async def append_event(self, event: str, details: Mapping[str, Any]) -> int:
        """Append an event record (e.g. ``audit_access``: an auditor viewed decrypted data); returns its seq.

        ``details`` must not hold personal data in clear: a subject goes in as its blind index."""
        return await self._append_counted(
            "event", codec.event_body(event, self.instance, details, self.keyring)
        )

    async def _append_counted(self, kind: str, body: str) -> int:
        try:
            seq = await self._append(body)
        except AuditUnavailable:
            self.degraded = True
            if self.metrics is not None:
                self.metrics.audit_append_failures.inc()
            raise
        self.degraded = False
        if self.metrics is not None:
            self.metrics.audit_appends.labels(kind).inc()
        return seq

    @property
    @abc.abstractmethod
    def commits(self) -> int:
        """Write transactions this store has committed (group commit makes it smaller than the appends)."""

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
        caller: str | None = None,
    ) -> list[dict[str, Any]]:
        """Queries (intent + newest outcome) and refusals matching every given filter, oldest first.

        ``since`` is inclusive, ``until`` exclusive, both on ``requested_at``. ``subject`` is matched through
        the blind index under every configured data key. Each answer carries ``record_mac``
        (:func:`codec.checked_search_result`; ``valid`` for what the service wrote).
        """
        indexes = self.keyring.blind_indexes(subject) if subject is not None else None
        rows = await self._search_rows(
            xroad_id=xroad_id,
            end_user=end_user,
            subject_indexes=indexes,
            since=codec.time_bound(since),
            until=codec.time_bound(until),
            limit=max(0, limit),
            caller=caller,
        )
        outcomes = await self._outcomes_for([aid for _, aid, kind, _ in rows if kind == "intent"])
        keyring = self.keyring
        checker = MacChecker(keyring)
        return [
            codec.checked_search_result(seq, body, outcomes.get(aid), keyring, checker)
            for seq, aid, _, body in rows
        ]

    async def raw_window(
        self, *, since: datetime, until: datetime | None = None, limit: int = 1_000_000
    ) -> list[tuple[int, str, str, str | None]]:
        """Intents and refusals requested in ``[since, until)`` as stored ``(seq, kind, body, newest outcome
        body or None)``, by seq, nothing decrypted: for aggregates that must not see subjects."""
        rows = await self._search_rows(
            xroad_id=None,
            end_user=None,
            subject_indexes=None,
            since=iso(since),
            until=codec.time_bound(until),
            limit=max(0, limit),
        )
        outcomes = await self._outcomes_for([aid for _, aid, kind, _ in rows if kind == "intent"])
        return [(seq, kind, body, outcomes.get(aid)) for seq, aid, kind, body in rows]

    async def newest_events(self, limit: int, *, before: int | None = None) -> list[tuple[int, str]]:
        """Event records ``(seq, body)`` before seq ``before`` (default: the head included), newest first, at
        most ``limit``: through the events' own index, however far back they are."""
        m = self.MARK
        bound, params = (f" AND seq < {m}", [before, limit]) if before is not None else ("", [limit])
        rows = await self._fetch(
            f"SELECT seq, body FROM {self.RECORDS} WHERE kind = 'event'{bound}"  # noqa: S608  # own names only
            # "+seq": sort the events found through their index, rather than walk the whole log backwards
            f" ORDER BY +seq DESC LIMIT {m}",
            params,
        )
        return [(int(seq), body if isinstance(body, str) else bytes(body).decode()) for seq, body in rows]

    async def raw_tail(self, count: int, *, before: int | None = None) -> list[Row]:
        """The newest ``count`` stored records ``(seq, period, body, hash)`` before seq ``before`` (default:
        the head included), by seq, nothing decrypted."""
        last = (await self._head())[0] if before is None else before - 1
        return await self._rows_between(max(1, last - count + 1), last) if last > 0 else []

    @abc.abstractmethod
    async def ping(self) -> None:
        """A cheap round trip through the write path; raises :class:`AuditUnavailable`.

        For readiness. Normally it takes the write lock (SQLite) or runs ``SELECT 1`` (PostgreSQL). After a
        failed append (``degraded``) it proves that writing works again - a committed write to a probe row
        (SQLite), an insert under the log's lock that is rolled back (PostgreSQL) - so readiness comes back by
        itself, without waiting for a query."""

    @abc.abstractmethod
    async def write_call(self, call: Callable[[WriteTx], Awaitable[T]]) -> T:
        """Run ``call`` in a writer transaction of its own, holding the log's lock, after the appends queued
        before it; its result once committed. It may await only the :class:`WriteTx` methods (the SQLite
        writer runs it to its end on its thread); a failure rolls the transaction back and raises
        :class:`AuditUnavailable`."""

    async def mark_unfinished_unknown(
        self, older_than: datetime | None = None, *, through: int | None = None
    ) -> int:
        """Append an ``outcome_unknown`` outcome to every intent that has none and that either was written by
        this instance (same ``instance`` name) with a seq up to ``through`` (default: the head when the sweep
        reads), or was requested before ``older_than``; returns how many.

        The service runs it in the background after start-up, with ``through=opened_head`` so that the queries
        it admitted meanwhile are never swept. With one replica (SQLite, or a default instance name that
        changes per process) pass ``older_than=now``: every open intent is then a query of a dead process. With
        several replicas sharing PostgreSQL pass ``now - (query deadline + shutdown grace)`` so that another
        replica's in-flight queries are left alone; the instance rule covers this replica's own ones when its
        name is stable.

        The open intents are read beside the writer: on a busy day that read takes seconds, and must hold
        neither the log's lock nor readiness. One short writer transaction then drops those that got an
        outcome meanwhile and appends. Each call records an ``unfinished_sweep`` event with its bound and the
        head it read (``covered``); the next call reads only the intents after that head, and those up to it
        requested from the bound on (:func:`codec.sweep_start`), so start-up does not scan five years."""
        count = await self._sweep(older_than, through)
        if self.metrics is not None:
            self.metrics.audit_appends.labels("outcome").inc(count)
            self.metrics.audit_appends.labels("event").inc()
        self.sweep_done.set()
        return count

    async def _sweep(self, older_than: datetime | None, through: int | None) -> int:
        q = core.SweepQueries.of(self.RECORDS, self.MARK, self.INSTANCE_COLUMN)
        top = int((await self._fetch(q.head, []))[0][0])
        events = [body for _, body in await self.newest_events(SWEEP_EVENTS)]
        start = codec.sweep_start(events, MacChecker(self.keyring))
        own = top if through is None else min(through, top)
        rule = [self.instance, own, iso(older_than) if older_than is not None else None, self.instance, own]
        upto = top if start.covered is None else min(start.covered, top)
        # long: a read of its own (SQLite: connection and thread), not holding up searches and quota loads
        rows = await self._fetch(q.by_time, [start.since, upto, *rule], long=True)
        if start.covered is not None and start.covered < top:
            rows += await self._fetch(q.by_seq, [start.covered, top, *rule], long=True)
        candidates = [str(r[0]) for r in rows]
        instance, keyring = self.instance, self.keyring

        async def mark(tx: WriteTx) -> int:
            closed: set[str] = set()
            for chunk in _chunks(candidates):
                match, params = self._any_of("audit_id", chunk)
                found = await tx.fetch(
                    f"SELECT audit_id FROM {self.RECORDS} WHERE kind = 'outcome' AND {match}",  # noqa: S608
                    params,
                )
                closed.update(str(r[0]) for r in found)
            still_open = [a for a in candidates if a not in closed]
            await tx.append(core.sweep_bodies(still_open, instance, older_than, top, keyring))
            return len(still_open)

        return await self.write_call(mark)

    async def count_distinct_subjects(self, *, since: datetime, caller: str | None, end_user: str) -> int:
        """Distinct subjects asked by ``end_user`` (of ``caller``) since ``since``, through the blind index.

        Just after a data key rotation one person may count twice (two keys, two indexes): quotas err on the
        strict side.
        """
        return await self._count_distinct_subjects(since=iso(since), caller=caller, end_user=end_user)

    # --- quota usage -----------------------------------------------------------------------------------

    async def end_user_usage(
        self, caller: str, key: str, end_user: str, in_use: Collection[tuple[str, str]]
    ) -> EndUserUsage:
        """The in-memory usage of one end user (``key`` = its end_user_key), loaded from the log when first
        needed: an indexed read of that end user's intents of the last day. ``end_user`` (as sent) finds the
        intents written before records carried ``end_user_key``.

        Simultaneous first queries of one end user share one load: a second load would replace the state the
        first one's reservation is already counted in."""
        state = self.usage.end_users.get((caller, key))
        if state is not None:
            return state
        pending = self._loading.get((caller, key))
        if pending is None:
            pending = asyncio.ensure_future(self._read_end_user_usage(caller, key, end_user, in_use))
            self._loading[(caller, key)] = pending
            pending.add_done_callback(lambda done: self._loaded((caller, key), done))
        # shielded: a waiter cancelled (client gone) must not cancel the load the others wait for
        return await asyncio.shield(pending)

    def _loaded(self, key: tuple[str, str], done: asyncio.Future[EndUserUsage]) -> None:
        self._loading.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: a load whose waiters were all cancelled is not an unseen error

    async def _read_end_user_usage(
        self, caller: str, key: str, end_user: str, in_use: Collection[tuple[str, str]]
    ) -> EndUserUsage:
        for _ in range(3):
            since = iso(utcnow() - timedelta(seconds=DAY))
            through, rows = await self._load_end_user(caller, key, end_user, since)
            state = self.usage.loaded(caller, key, through, rows, in_use)
            if state is not None:
                return state
        raise AuditUnavailable("the quota usage could not be read from the audit store")

    async def sync_usage(self) -> None:
        """Bring the ledger up to the log's head now (records other processes or replicas appended)."""
        await self.write_call(nothing)  # every writer transaction reads them first

    async def _load_end_user(
        self, caller: str, key: str, end_user: str, since: str
    ) -> tuple[int, list[IntentRow]]:
        """``(head seq, intents)``: one end user's intents requested at or after ``since``, in one snapshot."""
        return await self._usage_snapshot(
            self.USAGE.end_user, self.USAGE.end_user_params(key, caller, end_user, since)
        )

    @abc.abstractmethod
    async def _usage_snapshot(self, query: str, params: Sequence[Any]) -> tuple[int, list[IntentRow]]:
        """The head seq and the intents ``query`` (of :attr:`USAGE`) reads, in one read-only snapshot."""

    async def prove(self, xroad_id: str) -> bytes:
        """Signed evidence of one query and its place in the signed log (``audit prove``)."""
        from xroad_vtj.audit.evidence import prove

        return await prove(self, xroad_id)

    async def export(self, since: datetime, until: datetime) -> bytes:
        """Signed evidence of every query requested in ``[since, until)`` (``audit export``)."""
        from xroad_vtj.audit.evidence import export

        return await export(self, since, until)

    async def verify(self, *, checkpoint_dir: Path | None = None) -> VerifyReport:
        """``audit verify`` (:func:`xroad_vtj.audit.verify.verify_store`). ``checkpoint_dir`` defaults to
        ``audit.checkpoint_dir``."""
        from xroad_vtj.audit.verify import verify_store

        return await verify_store(self, checkpoint_dir=checkpoint_dir)

    @abc.abstractmethod
    async def apply_retention(self, *, admin_dsn: str | None = None) -> RetentionResult:
        """Remove whole months older than ``audit.retention_years``, recording a retention event.

        PostgreSQL needs the schema owner's DSN (``admin_dsn``; default ``audit.dsn``)."""

    async def append_bodies_at(self, bodies: Sequence[str], periods: Sequence[int]) -> list[int]:
        """Chain prepared bodies with the given periods (bench and test helper: writes old data directly)."""
        return await self.write_call(lambda tx: tx.append(bodies, periods))

    # --- backend primitives --------------------------------------------------------------------------

    async def _derived_disagreement(self) -> int | None:
        """The first record whose searchable columns disagree with its body, if the backend stores them
        apart from the body (SQLite computes them from the body on every read: they cannot disagree)."""
        return None

    def _prepare_keys(self) -> None:
        """Before the keys are read: a backend that may create its own keys (the embedded one) does so."""
        return None  # a server database's keys are the operator's files

    @abc.abstractmethod
    async def _head(self) -> tuple[int, bytes]:
        """``(seq, hash)`` of the newest committed record (``(0, GENESIS)`` when empty)."""

    async def _store_checkpoint(self, seq: int, created_at: str, document: str) -> None:
        m = self.MARK
        await self.write_call(
            lambda tx: tx.execute(
                f"INSERT INTO {self.CHECKPOINTS} (seq, created_at, document) VALUES ({m}, {m}, {m})",  # noqa: S608
                (seq, created_at, document),
            )
        )

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

    # --- reads: one implementation, the dialect's SQL details --------------------------------------------

    RECORDS: ClassVar[str]  # the records table
    CHECKPOINTS: ClassVar[str]  # the checkpoints table
    MARK: ClassVar[str]  # the parameter placeholder
    NO_LIMIT: ClassVar[int | None]  # what LIMIT takes for "all rows"
    INSTANCE_COLUMN: ClassVar[str]  # the instance of the intent ``i`` (its column, or read from its body)
    USAGE: ClassVar[core.UsageQueries]  # the reads that feed the quota ledger

    @abc.abstractmethod
    def _any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """``column`` matches any of ``values``: the SQL fragment and its parameters."""

    @abc.abstractmethod
    async def _fetch(self, query: str, params: Sequence[Any], *, long: bool = False) -> list[tuple[Any, ...]]:
        """The rows of one read; a ``long`` one (verify, evidence) may use a connection of its own."""

    async def _search_rows(
        self,
        *,
        xroad_id: str | None,
        end_user: str | None,
        subject_indexes: Sequence[str] | None,
        since: str | None,
        until: str | None,
        limit: int,
        caller: str | None = None,
    ) -> list[tuple[int, str, str, str]]:
        """Intent and refusal rows ``(seq, audit_id, kind, body)`` matching the filters, by seq."""
        where, params = search_where(
            self.MARK,
            self._any_of,
            table=self.RECORDS,
            xroad_id=xroad_id,
            end_user=end_user,
            subject_indexes=subject_indexes,
            since=since,
            until=until,
            caller=caller,
        )
        rows = await self._fetch(
            f"SELECT seq, audit_id, kind, body FROM {self.RECORDS}"  # noqa: S608  # own names only
            f" WHERE {where} ORDER BY seq LIMIT {self.MARK}",
            [*params, limit],
        )
        return [(int(r[0]), r[1], r[2], r[3]) for r in rows]

    async def _outcomes_for(self, audit_ids: Sequence[str]) -> dict[str, str]:
        """The newest outcome body of each audit id that has one."""
        found: dict[str, str] = {}
        for chunk in _chunks(audit_ids):
            match, params = self._any_of("audit_id", chunk)
            for audit_id, body in await self._fetch(
                f"SELECT audit_id, body FROM {self.RECORDS}"  # noqa: S608  # own names only
                f" WHERE kind = 'outcome' AND {match} ORDER BY seq",
                params,
            ):
                found[audit_id] = body  # newest wins
        return found

    async def count_queries(
        self, *, since: datetime, caller: str | None = None, end_user: str | None = None
    ) -> int:
        """Intents (queries sent or about to be sent) requested at or after ``since``."""
        where, params = count_where(self.MARK, since=iso(since), caller=caller, end_user=end_user)
        rows = await self._fetch(f"SELECT count(*) FROM {self.RECORDS} WHERE {where}", params)  # noqa: S608
        return int(rows[0][0])

    async def _count_distinct_subjects(self, *, since: str, caller: str | None, end_user: str) -> int:
        m = self.MARK
        query = (
            f"SELECT count(DISTINCT subject_index) FROM {self.RECORDS}"  # noqa: S608  # own names only
            f" WHERE end_user = {m} AND kind = 'intent' AND requested_at >= {m}"
        )
        params: list[Any] = [end_user, since]
        if caller is not None:
            query += f" AND caller = {m}"
            params.append(caller)
        rows = await self._fetch(query, params)
        return int(rows[0][0])

    async def _checkpoint_documents(
        self, *, min_seq: int | None = None, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        """Stored checkpoints ``(seq, document)`` by seq, from ``min_seq``, at most ``limit``."""
        m = self.MARK
        rows = await self._fetch(
            f"SELECT seq, document FROM {self.CHECKPOINTS}"  # noqa: S608  # own names only
            f" WHERE seq >= {m} ORDER BY seq LIMIT {m}",
            [min_seq or 0, self.NO_LIMIT if limit is None else limit],
            long=True,
        )
        return [(int(seq), str(doc).encode()) for seq, doc in rows]

    async def _rows_between(self, first: int, last: int) -> list[Row]:
        """Stored records ``(seq, period, body, hash)`` with ``first <= seq <= last``, by seq."""
        m = self.MARK
        rows = await self._fetch(
            f"SELECT seq, period, body, hash FROM {self.RECORDS}"  # noqa: S608  # own names only
            f" WHERE seq BETWEEN {m} AND {m} ORDER BY seq",
            [first, last],
            long=True,
        )
        return [(int(s), int(p), b, bytes(h)) for s, p, b, h in rows]

    async def _rows_for_audit_ids(self, audit_ids: Sequence[str]) -> list[Row]:
        """Every stored record (intent, outcomes, refusal) of the given audit ids, by seq."""
        out: list[Row] = []
        for chunk in _chunks(audit_ids):
            match, params = self._any_of("audit_id", chunk)
            rows = await self._fetch(
                f"SELECT seq, period, body, hash FROM {self.RECORDS} WHERE {match}",  # noqa: S608
                params,
                long=True,
            )
            out += [(int(s), int(p), b, bytes(h)) for s, p, b, h in rows]
        return sorted(out)


async def nothing(tx: WriteTx) -> None:
    """A write call that only takes the log's lock and reads the head (and what other writers appended)."""
    return None


def _chunks(values: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def open_store(config: AuditConfig, *, instance: str, metrics: Metrics | None = None) -> AuditStore:
    """The store for ``config.backend``; call ``await store.open()`` before use."""
    if config.backend == "sqlite":
        from xroad_vtj.audit.sqlite_store import SqliteAuditStore

        return SqliteAuditStore(config, instance=instance, metrics=metrics)
    if config.backend == "postgresql":
        from xroad_vtj.audit.pg_store import PostgresAuditStore

        return PostgresAuditStore(config, instance=instance, metrics=metrics)
    raise ConfigError("audit.backend must be sqlite or postgresql")
