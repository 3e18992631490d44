"""The embedded SQLite audit store: one database file, WAL, durable commits, one writer thread per process.

Writes: every append goes to a queue served by one dedicated writer thread (the event loop never blocks on
SQLite). The thread takes everything queued, chains the whole batch onto the head and commits it once
(``synchronous=FULL``: the WAL is fsynced). Only then is every waiter of the batch released: group commit, and
an append that returned is durable. Usually the head is the one this writer committed last, and the batch is
one statement in its own transaction (:func:`guarded_insert`): it takes the write lock (with the busy
timeout, so several processes serialise), inserts every row only if that head is still the newest record, and
commits. Otherwise (first commit, or another process or a call job appended since) nothing was written and
the batch goes the long way: ``BEGIN IMMEDIATE``, read the head, hand other writers' intents to the quota
ledger, insert, ``COMMIT``. One statement instead of four plus one per row matters more than its SQL: each
statement lets the event loop's thread take the GIL, and getting it back costs the writer a context switch.

With other queries in flight a batch waits (at most ``MAX_COALESCE_SECONDS``) until it holds about half of
them; a lone query commits at once. Each job becomes bytes before the transaction, and one that cannot is
refused alone. A batch that the database fails is rolled back as a whole and every waiter gets
:class:`AuditUnavailable`; the next batch tries again.

Reads (search, counts) use a second connection in a single reader thread; WAL lets them run beside the writer.

Append-only: triggers refuse UPDATE and DELETE. Retention alone may delete, and only through a permit row that
a trigger refuses for any period within the last five years (see :mod:`xroad_vtj.audit.retention`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from xroad_vtj.audit import core, retention
from xroad_vtj.audit.chain import GENESIS, iso, period_of, utcnow
from xroad_vtj.audit.core import HeadWatch
from xroad_vtj.audit.retention import RetentionResult
from xroad_vtj.audit.store import AuditStore, ensure_embedded_keys, log, nothing
from xroad_vtj.audit.usage import MINUTE, IntentRow
from xroad_vtj.audit.verify import ChainResult, walk_log
from xroad_vtj.errors import AuditUnavailable

T = TypeVar("T")

SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 10_000
MAX_BATCH = 1024
GUARDED_ROWS = 128  # a larger batch takes the long way (4 parameters a row: well within SQLite's 32,766)
MAX_COALESCE_SECONDS = 0.004
GROUP_TARGET = 16


MIGRATIONS = (
    (1, "sqlite_0001_initial.sql"),
    (2, "sqlite_0002_quota_keys.sql"),
    (3, "sqlite_0003_partial_indexes.sql"),
)


def _migration(name: str) -> str:
    return resources.files("xroad_vtj.audit.migrations").joinpath(name).read_text(encoding="utf-8")


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, durable commits.

    A new database file is created owner-only (0600) before SQLite opens it: it holds end users and purposes
    in clear, and SQLite gives the WAL and shared-memory files the mode of the database file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to ``SCHEMA_VERSION`` (PRAGMA user_version), one migration file at a time."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise AuditUnavailable("the audit database was created by a newer version of xroad-vtj")
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have been first
        for number, name in MIGRATIONS:
            if number > version:
                for statement in _statements(_migration(name)):
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> Iterator[str]:
    buf: list[str] = []
    for line in script.splitlines():
        if line.startswith("--") or not line.strip():
            continue
        buf.append(line)
        if sqlite3.complete_statement("\n".join(buf)):
            yield "\n".join(buf)
            buf = []


def head(conn: sqlite3.Connection) -> tuple[int, bytes, int]:
    """``(seq, hash, period)`` of the newest record, or ``(0, GENESIS, 0)`` for an empty log."""
    row = conn.execute("SELECT seq, hash, period FROM audit_record ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS, 0) if row is None else (row[0], bytes(row[1]), row[2])


def insert_chained(
    conn: sqlite3.Connection,
    bodies: Sequence[str],
    *,
    periods: Sequence[int] | None = None,
    encoded: Sequence[bytes] | None = None,
    watch: HeadWatch | None = None,
) -> list[int]:
    """Chain ``bodies`` onto the head and insert them; the caller holds the write transaction.

    ``periods`` forces each record's period (bench and test helpers writing old data). ``encoded`` are the
    bodies' UTF-8 bytes when the caller already has them. With ``watch``, intents other processes appended
    since this one last wrote are handed to the quota ledger first.
    """
    return [c.seq for c in _insert_chained(conn, bodies, periods, encoded, watch)]


def _insert_chained(
    conn: sqlite3.Connection,
    bodies: Sequence[str],
    periods: Sequence[int] | None,
    encoded: Sequence[bytes] | None,
    watch: HeadWatch | None,
) -> list[core.Chained]:
    top = head(conn)
    if watch is not None:
        sync_foreign(conn, watch, top[0])
    data = encoded if encoded is not None else [b.encode() for b in bodies]
    chained = core.chain(top, data, period_of(utcnow()), periods)
    conn.executemany(
        "INSERT INTO audit_record (seq, period, body, hash) VALUES (?, ?, ?, ?)",
        [(c.seq, c.period, body, c.hash) for c, body in zip(chained, bodies, strict=True)],
    )
    if watch is not None and chained:
        watch.pending = chained[-1].seq
    return chained


@functools.lru_cache(maxsize=GUARDED_ROWS)
def guarded_insert(rows: int) -> str:
    """One statement that inserts ``rows`` chained records only if the head is still the one they were chained
    onto (params: 4 a row, then the head's seq twice and its hash); in autocommit mode it is its own
    transaction. SQLite takes the write lock when the statement starts (the busy timeout applies) and
    evaluates the guard once, under that lock: either every row is written or none (``rowcount`` says)."""
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO audit_record (seq, period, body, hash)"  # noqa: S608  # placeholders only
        f" SELECT column1, column2, column3, column4 FROM (VALUES {values})"
        " WHERE (SELECT max(seq) FROM audit_record) = ? AND (SELECT hash FROM audit_record WHERE seq = ?) = ?"
    )


USAGE = core.UsageQueries.of("audit_record", "?", prune_periods=False)


def sync_foreign(conn: sqlite3.Connection, watch: HeadWatch, head_seq: int) -> None:
    span = watch.foreign(head_seq)
    if span is not None:
        rows = conn.execute(USAGE.foreign, span).fetchall()
        watch.found(core.intent_rows(rows), span[1])


def usage_snapshot(
    conn: sqlite3.Connection, query: str, params: Sequence[Any]
) -> tuple[int, list[IntentRow]]:
    """The head seq and the intents ``query`` (of :data:`USAGE`) reads, in one snapshot."""
    conn.execute("BEGIN")
    try:
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_record").fetchone()[0]
        rows = conn.execute(query, params).fetchall()
        return int(top), core.intent_rows(rows)
    finally:
        conn.execute("ROLLBACK")


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is counting any more
        loop.call_soon_threadsafe(fn)


def check_sqlite_chain(conn: sqlite3.Connection, remember: Collection[int] = ()) -> ChainResult:
    """Walk the chain in one read transaction (a consistent snapshot even while others append)."""
    conn.execute("BEGIN")
    try:
        first = conn.execute("SELECT min(seq) FROM audit_record").fetchone()[0]
        return walk_log(
            first,
            lambda: (
                r[0]
                for r in conn.execute("SELECT body FROM audit_record WHERE kind = 'event' ORDER BY +seq DESC")
            ),
            lambda: conn.execute(
                "SELECT seq, period, CAST(body AS BLOB), hash FROM audit_record ORDER BY seq"
            ),
            remember,
        )
    finally:
        conn.execute("ROLLBACK")


@dataclass(slots=True)
class SqliteTx:
    """The SQLite writer's :class:`core.WriteTx`: its methods are coroutines that never suspend, so that the
    writer thread runs a write call to its end without an event loop (:func:`run_to_end`). ``conn`` is for
    this dialect's own calls (retention) that share synchronous code with PostgreSQL's."""

    conn: sqlite3.Connection
    watch: HeadWatch | None

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(sql, params)]

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, params)

    async def append(self, bodies: Sequence[str], periods: Sequence[int] | None = None) -> list[int]:
        return insert_chained(self.conn, bodies, periods=periods, watch=self.watch)


class CallSuspended(RuntimeError):
    """A write call awaited something that suspends (only :class:`SqliteTx` methods may be awaited)."""


def run_to_end(call: Awaitable[T]) -> T:
    """Run a write call that never suspends to its end, on this thread, without an event loop."""
    steps = call.__await__()
    try:
        steps.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    close = getattr(steps, "close", None)
    if close is not None:
        close()
    raise CallSuspended("a SQLite write call awaited something other than its transaction")


@dataclass(slots=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    body: str | None = None  # an append
    call: Callable[[SqliteTx], Awaitable[Any]] | None = None  # anything else, in its own write transaction
    result: Any = field(default=None)


def _body(job: _Job) -> str:
    assert job.body is not None
    return job.body


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the waiter was cancelled; the record is written all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _notify(job: _Job, result: Any, error: BaseException | None) -> None:
    """Hand the result to the waiter's event loop (from the writer thread)."""
    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)


def _notify_all(jobs: Sequence[_Job], results: Sequence[Any]) -> None:
    """Hand a whole batch's results over with one wake-up per event loop (not one per job: each wake-up is a
    write to the loop's self-pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for job, result in zip(jobs, results, strict=True):
        by_loop.setdefault(job.loop, []).append((job.future, result))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_settle_all, settled)


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in settled:
        _settle(future, result, None)


class _Writer:
    """The one thread per process that writes to the database, in batches."""

    def __init__(
        self,
        path: Path,
        watch: HeadWatch | None = None,
        observe: Callable[[int], None] | None = None,
        expect: Callable[[], int] = lambda: 0,
    ) -> None:
        self._path = path
        self._expect = expect  # appends likely to arrive soon (the store's queries in flight)
        self.watch = watch
        self._observe = observe  # records per committed batch (the batch-size histogram)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._conn: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="audit-sqlite-writer", daemon=True)
        self._stopped = False
        self._head: tuple[int, bytes, int] | None = None  # (seq, hash, period) this writer committed last
        self._wanted = MAX_BATCH + 1  # queued jobs that would fill the batch being gathered (none: never)
        self._enough = threading.Event()  # set by submit() when they are there
        self.commits = 0  # append transactions committed: fewer than appends when they share commits

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: _Job) -> None:
        if self._stopped:
            raise AuditUnavailable("the audit store is closed")
        self._queue.put(job)
        # wake a gathering writer once its batch can be full (or a call must run), not at every append
        if job.call is not None or self._queue.qsize() >= self._wanted:
            self._enough.set()

    def stop(self) -> None:
        self._stopped = True
        self._queue.put(None)
        self._enough.set()
        self._thread.join()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self._path)
        return self._conn

    def _drop_connection(self) -> None:
        self._head = None
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _run(self) -> None:
        lookahead: list[_Job | None] = []
        while True:
            job = lookahead.pop() if lookahead else self._queue.get()
            if job is None:
                break
            if job.call is not None:
                self._run_call(job)
                continue
            batch = [job]
            # Group commit: with other queries in flight, a batch waits (at most MAX_COALESCE_SECONDS) until it
            # holds about half of them: their appends arrive within a commit's time, and one fsync for many
            # saves disk and writer CPU. A store with one query in flight (idle) commits at once.
            target = min(GROUP_TARGET, self._expect() // 2)
            self._gather(batch, lookahead, MAX_COALESCE_SECONDS if target > 1 else 0.0, target)
            self._commit_batch(batch)
        self._drop_connection()

    def _gather(self, batch: list[_Job], lookahead: list[_Job | None], wait: float, target: int) -> None:
        """Take everything already queued, then wait (at most ``wait``) while the batch is below ``target``.

        The writer sleeps until enough appends are queued to reach ``target`` (:meth:`submit` wakes it once),
        rather than waking for each one: every wake-up costs this thread a context switch and the GIL."""
        deadline = time.monotonic() + wait
        while True:
            self._take_queued(batch, lookahead)
            remaining = deadline - time.monotonic()
            if len(batch) >= target or lookahead or remaining <= 0 or len(batch) >= MAX_BATCH:
                return
            self._enough.clear()
            self._wanted = target - len(batch)
            if self._queue.qsize() < self._wanted:  # (after clear: an append queued meanwhile sets it again)
                self._enough.wait(remaining)
            self._wanted = MAX_BATCH + 1

    def _take_queued(self, batch: list[_Job], lookahead: list[_Job | None]) -> None:
        """Move queued appends into ``batch``; a call or the stop signal ends it (they run after the batch)."""
        while len(batch) < MAX_BATCH:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return
            if nxt is None or nxt.call is not None:
                lookahead.append(nxt)  # runs after this batch, in order
                return
            batch.append(nxt)

    def _commit_batch(self, batch: list[_Job]) -> None:
        # Each job becomes bytes before the transaction: a job that cannot be written is refused alone.
        good, encoded, refused = core.encodable(batch, _body)
        for j, error in refused:
            _notify(j, None, error)
        if not good:
            return
        watch = self.watch
        bodies = [_body(j) for j in good]
        try:
            conn = self._connection()
            chained = self._append_at_known_head(conn, bodies, encoded)
            if chained is None:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    chained = _insert_chained(conn, bodies, None, encoded, watch)
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
            self.commits += 1
        except Exception as e:  # the database failed: the whole batch is refused
            if watch is not None:
                watch.rolled_back()
            self._drop_connection()
            error = _unavailable(e)
            for j in good:
                _notify(j, None, error)
            return
        last = chained[-1]
        self._head = (last.seq, last.hash, last.period)
        if watch is not None:
            watch.committed()
        if self._observe is not None:
            self._observe(len(good))
        _notify_all(good, [c.seq for c in chained])

    def _append_at_known_head(
        self, conn: sqlite3.Connection, bodies: list[str], encoded: list[bytes]
    ) -> list[core.Chained] | None:
        """Chain the batch onto the head this writer committed last and write it in one guarded statement
        (:func:`guarded_insert`), committed when it returns; ``None`` if nothing was written because that is
        no longer the head (or is not known)."""
        top, watch = self._head, self.watch
        if top is None or len(bodies) > GUARDED_ROWS or (watch is not None and watch.known != top[0]):
            return None
        if conn.in_transaction:
            # never expected; inside an open transaction the statement would not commit, and an append must
            # not return before it is durable: the long path's BEGIN then fails, and the batch with it
            return None
        chained = core.chain(top, encoded, period_of(utcnow()))
        params: list[Any] = []
        for c, body in zip(chained, bodies, strict=True):
            params += (c.seq, c.period, body, c.hash)
        params += (top[0], top[0], top[1])
        if conn.execute(guarded_insert(len(chained)), params).rowcount != len(chained):
            return None
        if watch is not None:
            # the guard read the head under the write lock: nobody else appended since this process last did
            watch.foreign(top[0])
            watch.pending = chained[-1].seq
        return chained

    def _run_call(self, job: _Job) -> None:
        assert job.call is not None
        watch = self.watch
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if watch is not None:  # as every writer transaction: what other writers appended first
                    sync_foreign(conn, watch, head(conn)[0])
                result = run_to_end(job.call(SqliteTx(conn, watch)))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        except Exception as e:
            if watch is not None:
                watch.rolled_back()
            if isinstance(e, sqlite3.Error) or (self._conn is not None and self._conn.in_transaction):
                self._drop_connection()  # (a connection left in a transaction would hold every later write)
            # a call that suspends is a programming error: say so, rather than that the database failed
            _notify(job, None, e if isinstance(e, CallSuspended) else _unavailable(e))
            return
        if watch is not None:
            watch.committed()
        _notify(job, result, None)


def _rollback(conn: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def _unavailable(e: BaseException) -> AuditUnavailable:
    if isinstance(e, AuditUnavailable):
        return e
    # sqlite messages name no personal data (bodies are bound parameters), but keep only the class and code
    detail = type(e).__name__
    code = getattr(e, "sqlite_errorname", None)
    return AuditUnavailable(f"audit store write failed ({detail}{': ' + code if code else ''})")


class SqliteAuditStore(AuditStore):
    RECORDS = "audit_record"
    CHECKPOINTS = "audit_checkpoint"
    MARK = "?"
    NO_LIMIT = -1
    INSTANCE_COLUMN = "json_extract(i.body, '$.instance')"
    USAGE = USAGE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.config.sqlite_path is None:
            raise AuditUnavailable("audit.sqlite_path is not configured")
        self.path: Path = self.config.sqlite_path
        self._writer: _Writer | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._read_conn: sqlite3.Connection | None = None

    def _prepare_keys(self) -> None:
        # the embedded default creates missing key files next to the database, saying so once
        created = ensure_embedded_keys(self.config)
        if created:
            log.warning("audit_keys_created", files=created, hint="configure audit.*_file for production")

    async def _open_backend(self) -> None:
        since = iso(utcnow() - timedelta(seconds=MINUTE))

        def prepare() -> tuple[int, list[IntentRow]]:
            conn = connect(self.path)
            try:
                migrate(conn)
                return usage_snapshot(conn, USAGE.minute, (since,))
            finally:
                conn.close()

        try:
            top, minute = await asyncio.to_thread(prepare)
        except sqlite3.Error as e:
            raise _unavailable(e) from None
        self.usage.start(top, minute)
        loop = asyncio.get_running_loop()
        watch = HeadWatch(self.usage, lambda fn: _call_soon(loop, fn))
        watch.known = top
        self._writer = _Writer(self.path, watch, self._observe_batch, lambda: self.open_queries)
        self._writer.start()
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-sqlite-reader")

    async def _close_backend(self) -> None:
        if self._writer is not None:
            await asyncio.to_thread(self._writer.stop)
            self._writer = None
        if self._reader is not None:
            if self._read_conn is not None:
                await self._read(lambda c: c.close())
            self._reader.shutdown(wait=True)
            self._reader = None
            self._read_conn = None

    # --- writes --------------------------------------------------------------------------------------

    def _submit(self, job: _Job) -> asyncio.Future[Any]:
        if self._writer is None:
            raise AuditUnavailable("the audit store is not open")
        self._writer.submit(job)
        return job.future

    async def _append(self, body: str) -> int:
        loop = asyncio.get_running_loop()
        seq: int = await self._submit(_Job(loop, loop.create_future(), body=body))
        return seq

    async def write_call(self, call: Callable[[core.WriteTx], Awaitable[T]]) -> T:
        return await self._call(call)

    async def _call(self, call: Callable[[SqliteTx], Awaitable[T]]) -> T:
        """:meth:`write_call` with this dialect's transaction (its connection, for retention)."""
        loop = asyncio.get_running_loop()
        result: T = await self._submit(_Job(loop, loop.create_future(), call=call))
        return result

    @property
    def commits(self) -> int:
        return self._writer.commits if self._writer is not None else 0

    async def apply_retention(self, *, admin_dsn: str | None = None) -> RetentionResult:
        years = self.config.retention_years
        keep_from = retention.keep_from_period(utcnow(), years)
        instance = self.instance
        records, mark = self.RECORDS, self.MARK

        async def run(tx: SqliteTx) -> RetentionResult:
            conn = tx.conn  # the plan is synchronous code shared with PostgreSQL's retention
            planned = retention.plan(conn, records, mark, instance, years, keep_from, self.keyring)
            if planned.body is None:
                return planned.result
            await tx.append([planned.body])
            # the controlled exception to append-only (see SCHEMA): permit, delete, withdraw the permit
            conn.execute(
                "INSERT INTO audit_retention_permit (through_period) VALUES (?)",
                (retention.previous_period(keep_from),),
            )
            conn.execute("DELETE FROM audit_record WHERE period < ?", (keep_from,))
            conn.execute("DELETE FROM audit_retention_permit")
            return planned.result

        result = await self._call(run)
        if result.removed_records and self.metrics is not None:
            self.metrics.audit_appends.labels("event").inc()
        return result

    async def ping(self) -> None:
        if not self.degraded:
            await self.write_call(nothing)  # the write lock can be taken and the log read
            return
        # committed and fsynced: the disk takes writes again
        await self.write_call(
            lambda tx: tx.execute(
                "INSERT OR REPLACE INTO audit_probe (id, at) VALUES (1, ?)", (iso(utcnow()),)
            )
        )
        self.degraded = False

    async def _head(self) -> tuple[int, bytes]:
        seq, hash_, _ = await self._read(head)
        return seq, hash_

    async def _check_chain(self, remember: Collection[int] = ()) -> ChainResult:
        def walk(conn: sqlite3.Connection) -> ChainResult:
            return check_sqlite_chain(conn, remember)

        return await self._read_fresh(walk)

    async def _read_fresh(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a long read on its own connection in its own thread (does not hold up searches)."""

        opened: list[sqlite3.Connection] = []

        def run() -> T:
            conn = connect(self.path)
            opened.append(conn)
            try:
                return fn(conn)
            finally:
                conn.close()

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as e:
            raise _unavailable(e) from None
        except asyncio.CancelledError:
            # the thread would read on to the end (a sweep of a busy day: seconds) and hold up shutdown
            if opened:
                with contextlib.suppress(sqlite3.Error):
                    opened[0].interrupt()
            raise

    # --- reads ---------------------------------------------------------------------------------------

    def _any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    async def _fetch(self, query: str, params: Sequence[Any], *, long: bool = False) -> list[tuple[Any, ...]]:
        def run(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(query, params)]

        # a long read runs on a connection and thread of its own: it does not hold up searches
        return await (self._read_fresh(run) if long else self._read(run))

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader is None:
            raise AuditUnavailable("the audit store is not open")

        def run() -> T:
            if self._read_conn is None:
                self._read_conn = connect(self.path)
            return fn(self._read_conn)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._reader, run)
        except sqlite3.Error as e:
            self._read_conn = None
            raise _unavailable(e) from None

    async def _usage_snapshot(self, query: str, params: Sequence[Any]) -> tuple[int, list[IntentRow]]:
        return await self._read(lambda conn: usage_snapshot(conn, query, params))
