"""The PostgreSQL audit store: several replicas, one chain, group commit through one writer task per process.

Appends are queued to one writer task per process. It takes everything queued and, in one transaction, takes
the log's lock (``LOCK TABLE xroad_vtj_audit.write_lock IN EXCLUSIVE MODE``, which only the application role
may take: replicas queue up here, so seq stays gap-free and the chain has one order), reads the head record,
hands the intents other replicas appended since its last transaction to the quota ledger, inserts the batch
chained onto it and commits. Every waiter of
the batch is released only after that commit: concurrent queries share one durable commit, and an append that
returned is durable. A failed batch is rolled back whole and its waiters get :class:`AuditUnavailable`.

The application role needs only SELECT and INSERT (and EXECUTE on ``ensure_partition``, which creates a new
month's partition with its owner's rights); the schema belongs to the role that ran ``audit migrate``.
Verification streams the log through a server-side cursor on its own connection in a worker thread.

Outages fail fast: once the database has proved unreachable (a connection lost or refused, or no connection
within the pool timeout), the pool is closed and every append, read and ping raises :class:`AuditUnavailable`
at once instead of waiting the pool timeout again. A background probe connects every
``PROBE_INTERVAL_SECONDS``; when it succeeds, a fresh pool is opened and the store works again by itself. (A
fresh pool rather than the old one: psycopg_pool backs off exponentially while it cannot reconnect, so the old
one could take many seconds, or minutes after a long outage, to serve again.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from xroad_vtj.audit import core, pg_diagnose, retention
from xroad_vtj.audit.chain import GENESIS, iso, period_of, utcnow
from xroad_vtj.audit.core import HeadWatch
from xroad_vtj.audit.keys import Keyring
from xroad_vtj.audit.pg_schema import SCHEMA_VERSION, WRITE_LOCK_SQL, next_period
from xroad_vtj.audit.retention import RetentionResult
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.audit.usage import MINUTE, IntentRow
from xroad_vtj.audit.verify import ChainResult, Row, walk_log
from xroad_vtj.errors import AuditUnavailable

T = TypeVar("T")

MAX_BATCH = 1024
USAGE = core.UsageQueries.of("xroad_vtj_audit.record", "%s", prune_periods=True)
# the searchable columns filled from the hashed body (migrations/pg_0002): verify compares them with it
DERIVED_COLUMNS = (
    "kind",
    "audit_id",
    "instance",
    "xroad_message_id",
    "caller",
    "end_user",
    "end_user_key",
    "subject_index",
    "new_subject_index",
    "requested_at",
)
POOL_TIMEOUT_SECONDS = 3.0  # how long an append may wait for a connection before answering 503
PROBE_INTERVAL_SECONDS = 0.5  # while the database is unreachable, how often to try connecting again
CONNECT_OPTIONS = "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000"

AConn = psycopg.AsyncConnection[tuple[Any, ...]]
_DB_ERRORS = (psycopg.Error, PoolTimeout, OSError)
# the server is going away or refusing connections: admin_shutdown, crash_shutdown, cannot_connect_now
_SHUTDOWN_STATES = frozenset({"57P01", "57P02", "57P03"})

log = structlog.get_logger("xroad_vtj.audit")


def _unreachable(e: BaseException) -> bool:
    """Whether ``e`` says the database cannot be reached (rather than that it refused one statement)."""
    if isinstance(e, PoolClosed):
        return False  # this store closed (or replaced) its own pool
    if isinstance(e, (PoolTimeout, OSError)):
        return True
    if isinstance(e, psycopg.OperationalError):
        # no SQLSTATE: libpq lost or could not open the connection; class 08: connection exception
        state = e.sqlstate
        return state is None or state.startswith("08") or state in _SHUTDOWN_STATES
    return False


def _unavailable(e: BaseException) -> AuditUnavailable:
    if isinstance(e, AuditUnavailable):
        return e
    state = getattr(e, "sqlstate", None)
    return AuditUnavailable(f"audit store failed ({type(e).__name__}{': ' + state if state else ''})")


@dataclass(slots=True)
class _Job:
    future: asyncio.Future[Any]
    body: str | None = None
    call: Callable[[core.WriteTx], Awaitable[Any]] | None = None


@dataclass(slots=True)
class _Chainer:
    """The writer's transaction (the log's lock is held): appends bodies onto the head; the
    :class:`core.WriteTx` of :meth:`PostgresAuditStore.write_call`."""

    conn: AConn
    store: PostgresAuditStore
    seq: int = 0
    prev: bytes = GENESIS
    period: int = 0
    seqs: list[int] = field(default_factory=list)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = await self.conn.execute(sql.encode(), params)
        rows: list[tuple[Any, ...]] = await cur.fetchall()
        return rows

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self.conn.execute(sql.encode(), params)

    async def append(
        self,
        bodies: Sequence[str],
        periods: Sequence[int] | None = None,
        encoded: Sequence[bytes] | None = None,
    ) -> list[int]:
        data = encoded if encoded is not None else [b.encode() for b in bodies]
        chained = core.chain((self.seq, self.prev, self.period), data, period_of(utcnow()), periods)
        for period in sorted({c.period for c in chained}):
            await self.store._ensure_partition(self.conn, period)
        if chained:
            last = chained[-1]
            self.seq, self.prev, self.period = last.seq, last.hash, last.period
            # one statement (one round trip) for the whole batch
            await self.conn.execute(
                "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash)"
                " SELECT * FROM unnest(%b::bigint[], %b::integer[], %b::text[], %b::bytea[])",
                (
                    [c.seq for c in chained],
                    [c.period for c in chained],
                    list(bodies),
                    [c.hash for c in chained],
                ),
            )
        return [c.seq for c in chained]


class PostgresAuditStore(AuditStore):
    RECORDS = "xroad_vtj_audit.record"
    CHECKPOINTS = "xroad_vtj_audit.checkpoint"
    MARK = "%s"
    NO_LIMIT = None
    INSTANCE_COLUMN = "i.instance"
    USAGE = USAGE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.config.dsn:
            raise AuditUnavailable("audit.dsn is not configured")
        self.dsn: str = self.config.dsn
        self._pool: AsyncConnectionPool[AConn] | None = None
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._partitions: set[int] = set()
        self._commits = 0  # writer transactions committed: fewer than appends when they share commits
        self._period_hint = 0  # periods never decrease along the chain: the head is in this period or later
        self._outage: str | None = None  # set while the database is unreachable: everything fails at once
        self._probe: asyncio.Task[None] | None = None
        self._closing = False
        self._watch: HeadWatch | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    async def _open_pool(self) -> AsyncConnectionPool[AConn]:
        """A new pool holding one working connection; raises the connection's own error at once when the
        server is unreachable (the pool itself would retry with backoff until its timeout)."""
        probe = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, connect_timeout=int(POOL_TIMEOUT_SECONDS)
        )
        try:
            await probe.execute("SELECT 1")
        finally:
            await probe.close()
        pool: AsyncConnectionPool[AConn] = AsyncConnectionPool(
            self.dsn,
            min_size=1,
            max_size=8,
            open=False,
            timeout=POOL_TIMEOUT_SECONDS,
            kwargs={
                "autocommit": True,
                "options": CONNECT_OPTIONS,
                "connect_timeout": int(POOL_TIMEOUT_SECONDS),
            },
            check=AsyncConnectionPool.check_connection,
            name="xroad-vtj-audit",
        )
        try:
            await pool.open(wait=True, timeout=POOL_TIMEOUT_SECONDS * 2)
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _open_backend(self) -> None:
        self._closing = False
        self._outage = None
        pool: AsyncConnectionPool[AConn] | None = None
        try:
            pool = await self._open_pool()
            async with pool.connection() as conn:
                version = 0
                found = await (
                    await conn.execute("SELECT to_regclass('xroad_vtj_audit.schema_version')")
                ).fetchone()
                if found is not None and found[0] is not None:
                    cur = await conn.execute("SELECT max(version) FROM xroad_vtj_audit.schema_version")
                    row = await cur.fetchone()
                    version = row[0] if row and row[0] is not None else 0
                if version != SCHEMA_VERSION:
                    raise AuditUnavailable(
                        f"the audit schema is at version {version or 'none'}, this service needs "
                        f"{SCHEMA_VERSION}: run `xroad-vtj audit migrate`"
                    )
                now = period_of(utcnow())
                for period in (now, next_period(now)):
                    await self._ensure_partition(conn, period)
                since = iso(utcnow() - timedelta(seconds=MINUTE))
                top, minute = await usage_snapshot(conn, USAGE.minute, (since,))
        except BaseException as e:
            if pool is not None:
                await pool.close()
            if isinstance(e, _DB_ERRORS):
                # a pool only says "timed out": connect once directly to name the cause
                cause = await asyncio.to_thread(pg_diagnose.diagnose, self.dsn)
                raise AuditUnavailable(f"audit store: {cause or pg_diagnose.explain(e)}") from None
            raise
        self._pool = pool
        self.usage.start(top, minute)
        self._watch = HeadWatch(self.usage, lambda fn: fn())  # the writer runs on the ledger's loop
        self._watch.known = top
        self._writer = asyncio.create_task(self._write_loop(), name="audit-pg-writer")

    async def _close_backend(self) -> None:
        self._closing = True
        if self._writer is not None:
            await self._queue.put(None)
            await self._writer
            self._writer = None
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _ensure_partition(self, conn: AConn, period: int) -> None:
        if period not in self._partitions:
            await conn.execute("SELECT xroad_vtj_audit.ensure_partition(%s)", (period,))
            self._partitions.add(period)

    @contextlib.asynccontextmanager
    async def _connection(self) -> Any:
        self._raise_if_unreachable()
        pool = self._pool
        if pool is None:
            raise AuditUnavailable("the audit store is not open")
        try:
            async with pool.connection() as conn:
                yield conn
        except _DB_ERRORS as e:
            if _unreachable(e) and pool is self._pool:  # not a late failure from a pool already replaced
                self._lost(e)
            raise _unavailable(e) from None

    # --- outages -----------------------------------------------------------------------------------------

    @property
    def unreachable(self) -> bool:
        """The database proved unreachable and the probe has not reached it since."""
        return self._outage is not None

    def _raise_if_unreachable(self) -> None:
        if self._outage is not None:
            raise AuditUnavailable(self._outage)

    def _lost(self, e: BaseException) -> None:
        """Fail fast from now on, and start probing for the database's return."""
        if self._outage is None:
            log.warning(
                "audit_database_unreachable", error=type(e).__name__, sqlstate=getattr(e, "sqlstate", None)
            )
        self._outage = f"the audit database is unreachable ({type(e).__name__})"
        if not self._closing and (self._probe is None or self._probe.done()):
            self._probe = asyncio.create_task(self._probe_loop(), name="audit-pg-probe")

    async def _probe_loop(self) -> None:
        # The old pool's connections are dead, and it would retry with growing backoff: drop it. Connections
        # still in use finish (or fail) normally and are closed when given back.
        old, self._pool = self._pool, None
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close(timeout=1.0)
        while True:
            try:
                async with asyncio.timeout(POOL_TIMEOUT_SECONDS * 3):
                    pool = await self._open_pool()
            except Exception:  # whatever it was, the store must not stay refusing: try again
                await asyncio.sleep(PROBE_INTERVAL_SECONDS)
                continue
            self._partitions.clear()
            self._pool = pool
            self._outage = None
            log.info("audit_database_reachable_again")
            return

    # --- the writer --------------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        lookahead: list[_Job | None] = []
        while True:
            job = lookahead.pop() if lookahead else await self._queue.get()
            if job is None:
                return
            if job.call is not None:

                async def one(conn: AConn, chainer: _Chainer, call: Any = job.call) -> list[Any]:
                    return [await call(chainer)]

                await self._transaction([job], one)
                continue
            batch = [job]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None or nxt.call is not None:
                    lookahead.append(nxt)
                    break
                batch.append(nxt)
            # Each job becomes bytes before the transaction: a job that cannot be written is refused alone.
            good, encoded, refused = core.encodable(batch, lambda j: j.body or "")
            for j, error in refused:
                if not j.future.done():
                    j.future.set_exception(error)
            if not good:
                continue

            async def append(
                conn: AConn, chainer: _Chainer, good: list[_Job] = good, encoded: list[bytes] = encoded
            ) -> list[int]:
                return await chainer.append([j.body or "" for j in good], encoded=encoded)

            await self._transaction(good, append)

    async def _transaction(
        self, jobs: list[_Job], work: Callable[[AConn, _Chainer], Awaitable[list[Any]]]
    ) -> None:
        """Run ``work`` under the log's lock in one transaction; it returns one result per job."""
        try:
            async with self._connection() as conn, conn.transaction():
                await conn.execute(WRITE_LOCK_SQL)
                chainer = _Chainer(conn, self)
                chainer.seq, chainer.prev, chainer.period = await self._read_head(conn)
                await self._sync_foreign(conn, chainer.seq)
                result = await work(conn, chainer)
                if self._watch is not None:
                    self._watch.pending = chainer.seq
        except Exception as e:
            if self._watch is not None:
                self._watch.rolled_back()
            self._partitions.clear()  # a failed transaction may have rolled back a new partition
            error = _unavailable(e)
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(error)
            return
        self._period_hint = chainer.period
        self._commits += 1
        if self._watch is not None:
            self._watch.committed()
        if work.__name__ == "append":
            self._observe_batch(len(jobs))
        for j, r in zip(jobs, result, strict=True):
            if not j.future.done():
                j.future.set_result(r)

    async def _sync_foreign(self, conn: AConn, head_seq: int) -> None:
        """Hand the intents other replicas appended since this one last knew the head to the quota ledger."""
        watch = self._watch
        span = watch.foreign(head_seq) if watch is not None else None
        if watch is None or span is None:
            return
        cur = await conn.execute(USAGE.foreign.encode(), span)
        watch.found(core.intent_rows(await cur.fetchall()), span[1])

    async def _usage_snapshot(self, query: str, params: Sequence[Any]) -> tuple[int, list[IntentRow]]:
        async with self._connection() as conn:
            return await usage_snapshot(conn, query, params)

    async def _read_head(self, conn: AConn) -> tuple[int, bytes, int]:
        for hint in (self._period_hint, 0):
            cur = await conn.execute(
                "SELECT seq, hash, period FROM xroad_vtj_audit.record"
                " WHERE period >= %s ORDER BY seq DESC LIMIT 1",
                (hint,),
            )
            row = await cur.fetchone()
            if row is not None:
                return int(row[0]), bytes(row[1]), int(row[2])
            if hint == 0:
                break
        return 0, GENESIS, 0

    def _submit(self, job: _Job) -> asyncio.Future[Any]:
        if self._writer is None or self._writer.done():
            raise AuditUnavailable("the audit store is not open")
        self._raise_if_unreachable()
        self._queue.put_nowait(job)
        return job.future

    async def _append(self, body: str) -> int:
        seq: int = await self._submit(_Job(asyncio.get_running_loop().create_future(), body=body))
        return seq

    async def write_call(self, call: Callable[[core.WriteTx], Awaitable[T]]) -> T:
        result: T = await self._submit(_Job(asyncio.get_running_loop().create_future(), call=call))
        return result

    @property
    def commits(self) -> int:
        return self._commits

    async def apply_retention(self, *, admin_dsn: str | None = None) -> RetentionResult:
        try:
            result = await asyncio.to_thread(
                pg_retention, admin_dsn or self.dsn, self.instance, self.config.retention_years, self.keyring
            )
        except _DB_ERRORS as e:
            raise _unavailable(e) from None
        self._partitions.clear()
        if result.removed_records and self.metrics is not None:
            self.metrics.audit_appends.labels("event").inc()
        return result

    async def ping(self) -> None:
        if self._writer is None or self._writer.done():
            raise AuditUnavailable("the audit writer is not running")
        self._raise_if_unreachable()
        if not self.degraded:
            async with self._connection() as conn:
                await conn.execute("SELECT 1")
            return

        try:  # a real insert under the log's lock, rolled back: rights, partition and WAL all work
            async with self._connection() as conn, conn.transaction(force_rollback=True):
                await conn.execute(WRITE_LOCK_SQL)
                await self._ensure_partition(conn, period_of(utcnow()))
                await conn.execute(
                    "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash) VALUES (-1, %s, %s, %s)",
                    (period_of(utcnow()), '{"kind":"probe"}', GENESIS),
                )
        except _DB_ERRORS as e:
            self._partitions.clear()
            raise _unavailable(e) from None
        self.degraded = False

    # --- reads -------------------------------------------------------------------------------------------

    def _any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(%s)", [list(values)]

    async def _fetch(self, query: str, params: Sequence[Any], *, long: bool = False) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            cur = await conn.execute(query.encode(), params)
            rows: list[tuple[Any, ...]] = await cur.fetchall()
            return rows

    async def _head(self) -> tuple[int, bytes]:
        async with self._connection() as conn:
            seq, hash_, _ = await self._read_head(conn)
        return seq, hash_

    async def _derived_disagreement(self) -> int | None:
        # the columns the record_fill trigger fills; an owner who disabled it, or updated a column, shows here
        checks = " OR ".join(f"(j ->> '{column}') IS DISTINCT FROM {column}" for column in DERIVED_COLUMNS)
        rows = await self._fetch(
            f"SELECT min(seq) FROM (SELECT seq, body::jsonb AS j, {', '.join(DERIVED_COLUMNS)}"  # noqa: S608
            f" FROM xroad_vtj_audit.record) AS r WHERE {checks}",
            [],
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    async def _check_chain(self, remember: Collection[int] = ()) -> ChainResult:
        try:
            return await asyncio.to_thread(check_pg_chain, self.dsn, remember)
        except _DB_ERRORS as e:
            raise _unavailable(e) from None


async def usage_snapshot(conn: AConn, query: str, params: Sequence[Any]) -> tuple[int, list[IntentRow]]:
    """The head seq and the intents ``query`` (of :data:`USAGE`) reads, in one snapshot."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        top = await (
            await conn.execute("SELECT coalesce(max(seq), 0) FROM xroad_vtj_audit.record")
        ).fetchone()
        cur = await conn.execute(query.encode(), params)
        rows = await cur.fetchall()
    return int(top[0]) if top else 0, core.intent_rows(rows)


def check_pg_chain(dsn: str, remember: Collection[int] = ()) -> ChainResult:
    """Walk the chain in one repeatable-read snapshot, streaming rows through a server-side cursor."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        first_row = conn.execute("SELECT min(seq) FROM xroad_vtj_audit.record").fetchone()
        first: int | None = first_row[0] if first_row else None
        with conn.cursor(name="xroad_vtj_audit_verify", binary=True) as cur:
            cur.itersize = 20_000

            def rows() -> Iterable[Row]:
                # the server hashes each body (sha256 of its UTF-8 bytes) while this process walks the chain
                cur.execute(
                    "SELECT seq, period, sha256(convert_to(body, 'UTF8')), hash"
                    " FROM xroad_vtj_audit.record ORDER BY seq"
                )
                return cur

            def events() -> Iterable[str]:
                return (
                    r[0]
                    for r in conn.execute(
                        "SELECT body FROM xroad_vtj_audit.record WHERE kind = 'event' ORDER BY seq DESC"
                    )
                )

            return walk_log(first, events, rows, remember, digests=True)


def pg_retention(
    admin_dsn: str, instance: str, years: int, keyring: Keyring | None = None
) -> RetentionResult:
    """Retention as the schema owner: one transaction under the log's lock (see :mod:`retention`)."""
    keep_from = retention.keep_from_period(utcnow(), years)
    with psycopg.connect(admin_dsn) as conn:
        # detaching takes an exclusive lock on the table while appends wait for the log's lock: give up
        # rather than stall the service behind a long-running reader
        conn.execute("SET LOCAL lock_timeout = '5s'")
        conn.execute(WRITE_LOCK_SQL)
        planned = retention.plan(
            conn, PostgresAuditStore.RECORDS, PostgresAuditStore.MARK, instance, years, keep_from, keyring
        )
        if planned.body is None:
            return planned.result
        head = conn.execute(
            "SELECT seq, hash, period FROM xroad_vtj_audit.record ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        assert head is not None
        [chained] = core.chain(
            (int(head[0]), bytes(head[1]), int(head[2])), [planned.body.encode()], period_of(utcnow())
        )
        conn.execute("SELECT xroad_vtj_audit.create_partition(%s)", (chained.period,))
        conn.execute(
            "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash) VALUES (%s, %s, %s, %s)",
            (chained.seq, chained.period, planned.body, chained.hash),
        )
        for p in planned.result.periods:
            conn.execute("SELECT xroad_vtj_audit.remove_period(%s)", (p,))
        conn.commit()
    return planned.result
