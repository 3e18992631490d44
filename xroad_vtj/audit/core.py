"""What every audit backend's writer does, whatever the database: turn jobs into bytes, chain a batch onto the
head, and notice records other writers appended.

The dialects (:mod:`sqlite_store`, :mod:`pg_store`) hold the SQL, the locking and the connection handling;
they call these functions inside their write transaction, holding the log's lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import parse_iso, period_of, record_hash, utcnow
from xroad_vtj.audit.keys import Keyring
from xroad_vtj.audit.usage import IntentRow, UsageLedger
from xroad_vtj.errors import AuditUnavailable

# The columns a quota needs of an intent, in the order :func:`intent_rows` reads them.
USAGE_COLUMNS = "seq, caller, end_user_key, subject_index, requested_at"


def encode(body: str) -> bytes | AuditUnavailable:
    """The UTF-8 bytes of a body, or the error that refuses this one job (and no other in its batch).

    Bodies are valid Unicode by construction (:func:`codec.valid_text`); this is the writer's own guard, run
    before the transaction so that one bad body never fails the batch it arrived with."""
    try:
        return body.encode()
    except UnicodeEncodeError:
        return AuditUnavailable("audit store write failed (the record is not valid Unicode)")


J = TypeVar("J")


def encodable(
    jobs: Sequence[J], body: Callable[[J], str]
) -> tuple[list[J], list[bytes], list[tuple[J, AuditUnavailable]]]:
    """Split a batch before its transaction: the jobs that can be written with their bytes, and the refused."""
    good: list[J] = []
    encoded: list[bytes] = []
    refused: list[tuple[J, AuditUnavailable]] = []
    for job in jobs:
        data = encode(body(job))
        if isinstance(data, AuditUnavailable):
            refused.append((job, data))
        else:
            good.append(job)
            encoded.append(data)
    return good, encoded, refused


class WriteTx(Protocol):
    """One writer transaction of a store, holding the log's lock (:meth:`AuditStore.write_call`).

    The transaction has read the head and handed the records other writers appended to the quota ledger.
    SQL takes the dialect's placeholder (``AuditStore.MARK``). The SQLite dialect's methods never suspend (its
    writer thread runs the call to its end without an event loop): a call must await only these methods."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one statement."""
        ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement, its rows (if any) unread."""
        ...

    async def append(self, bodies: Sequence[str], periods: Sequence[int] | None = None) -> list[int]:
        """Chain ``bodies`` onto the head and insert them; their seqs. ``periods`` forces each record's period
        (bench and test helpers writing old data)."""
        ...


@dataclass(frozen=True, slots=True)
class SweepQueries:
    """The reads of a sweep (:meth:`AuditStore.mark_unfinished_unknown`) in a dialect's table and placeholder.

    The open intents are read outside the writer's transaction (a long read must not hold the log's lock) in
    two parts that together cover every intent that may still be open: ``by_time`` (params: requested at or
    after, seq at most, then the rule) and ``by_seq`` (params: seq after, seq at most, then the rule); the rule's
    params are instance, own seq at most, bound, instance, own seq at most. An intent qualifies if it is this
    instance's up to the given seq, or requested before the bound and not this instance's after that seq (a
    clock stepped back must not make a live query look old). ``closed`` then finds, under the lock, which of
    them got an outcome since."""

    by_time: str
    by_seq: str
    head: str

    @classmethod
    def of(cls, records: str, mark: str, instance_column: str) -> SweepQueries:
        m = mark

        def open_intents(kind: str, span: str) -> str:
            return (
                f"SELECT i.audit_id FROM {records} AS i"  # noqa: S608  # own names only
                f" WHERE {kind} = 'intent' AND {span}"
                f" AND NOT EXISTS (SELECT 1 FROM {records} AS o WHERE o.audit_id = i.audit_id AND o.kind = 'outcome')"
                f" AND (({instance_column} = {m} AND i.seq <= {m})"
                # this instance's queries admitted after the given seq are alive whatever their clock says
                f" OR (i.requested_at < {m} AND NOT ({instance_column} = {m} AND i.seq > {m})))"
                " ORDER BY +i.seq"  # "+": sort what was found, rather than walk the log in seq order
            )

        return cls(
            # "+i.seq": through the (kind, requested_at) index, not the whole log below a seq
            by_time=open_intents("i.kind", f"i.requested_at >= {m} AND +i.seq <= {m}"),
            # "kind || ''": not through the kind index (every intent ever written): the seq range is narrow
            by_seq=open_intents("i.kind || ''", f"i.seq > {m} AND i.seq <= {m}"),
            head=f"SELECT coalesce(max(seq), 0) FROM {records}",  # noqa: S608
        )


def sweep_bodies(
    open_audit_ids: Sequence[str],
    instance: str,
    older_than: datetime | None,
    covered: int,
    keyring: Keyring | None,
) -> list[str]:
    """What :meth:`AuditStore.mark_unfinished_unknown` appends: an ``outcome_unknown`` outcome for each open
    intent, then the ``unfinished_sweep`` event that bounds the next sweep (each with its record MAC: the
    keyring is required in practice, ``None`` only for a store without keys). ``covered``: the head seq the
    sweep read up to."""
    now = utcnow()
    bodies = [codec.unknown_outcome_body({"audit_id": a}, instance, now, keyring) for a in open_audit_ids]
    return [
        *bodies,
        codec.sweep_event_body(instance, older_than, len(open_audit_ids), keyring, covered=covered),
    ]


@dataclass(frozen=True, slots=True)
class Chained:
    seq: int
    period: int
    hash: bytes


def chain(
    head: tuple[int, bytes, int],
    encoded: Sequence[bytes],
    now_period: int,
    periods: Sequence[int] | None = None,
) -> list[Chained]:
    """Chain encoded bodies onto ``head`` = ``(seq, hash, period)``.

    A record's period is the current month (or the forced one of ``periods``: bench and test helpers writing
    old data), never below the previous record's, so that retention removes a prefix of the chain."""
    seq, prev, period = head
    out: list[Chained] = []
    for i, data in enumerate(encoded):
        seq += 1
        period = max(period, periods[i] if periods is not None else now_period)
        prev = record_hash(prev, seq, period, data)
        out.append(Chained(seq, period, prev))
    return out


@dataclass(frozen=True, slots=True)
class UsageQueries:
    """The reads that feed the quota ledger, in a dialect's table and placeholder."""

    minute: str  # intents requested at or after (param) - the callers' last minute, at open
    foreign: str  # intents with after < seq <= through (params), by seq - other writers' records
    end_user: str  # one end user's intents of the day (params: :meth:`end_user_params`)
    prune_periods: bool

    @classmethod
    def of(cls, records: str, m: str, *, prune_periods: bool) -> UsageQueries:
        """``prune_periods``: also bound ``period`` (a partitioned table then reads only the recent months;
        params gain the first period after each ``since``)."""
        cols = USAGE_COLUMNS
        period = f" AND period >= {m}" if prune_periods else ""
        return cls(
            minute=f"SELECT {cols} FROM {records} WHERE kind = 'intent' AND requested_at >= {m} ORDER BY +seq",  # noqa: S608
            foreign=(
                f"SELECT {cols} FROM {records}"  # noqa: S608  # own names only
                f" WHERE seq > {m} AND seq <= {m} AND kind = 'intent' ORDER BY seq"
            ),
            end_user=(
                f"SELECT {cols} FROM {records}"  # noqa: S608  # own names only
                f" WHERE end_user_key = {m} AND caller = {m} AND kind = 'intent' AND requested_at >= {m}{period}"
                # intents written before records carried end_user_key: by the end user as sent
                f" UNION ALL SELECT {cols} FROM {records}"
                f" WHERE end_user = {m} AND caller = {m} AND kind = 'intent' AND requested_at >= {m}{period}"
                " AND end_user_key IS NULL"
            ),
            prune_periods=prune_periods,
        )

    def end_user_params(self, key: str, caller: str, end_user: str, since: str) -> list[Any]:
        # a record's period is the month it was written, never before it was requested: only the partitions
        # from that month on are read
        first = [period_of(parse_iso(since))] if self.prune_periods else []
        return [key, caller, since, *first, end_user, caller, since, *first]


def intent_rows(rows: Sequence[Sequence[object]]) -> list[IntentRow]:
    """Rows of ``USAGE_COLUMNS`` as :class:`IntentRow` (an intent without ``end_user_key`` predates it)."""
    from xroad_vtj.audit.usage import intent_row

    return [intent_row(int(str(r[0])), _text(r[1]), _text(r[2]), _text(r[3]), str(r[4] or "")) for r in rows]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class HeadWatch:
    """Notices, under the log's lock, that other writers appended since this process last wrote or synced.

    ``deliver`` runs a callable on the event loop that owns the ledger, in submission order (the SQLite writer
    is a thread: ``loop.call_soon_threadsafe``); the foreign records then reach the ledger before the waiters
    of the batch that found them are released."""

    def __init__(self, ledger: UsageLedger, deliver: Callable[[Callable[[], None]], None]) -> None:
        self.ledger = ledger
        self.deliver = deliver
        self.known: int | None = None  # the head this process last knew; None: not started
        self.pending: int | None = None  # the last seq of the open transaction's own records
        self.checked = False  # the open transaction read the head (and handed over what it found)

    def foreign(self, head_seq: int) -> tuple[int, int] | None:
        """The seq range ``(after, through]`` other writers added, if any (the open transaction read the head
        under the log's lock: when it commits, the ledger is known to be current)."""
        self.checked = True
        if self.known is None or head_seq <= self.known:
            return None
        return self.known, head_seq

    def found(self, rows: list[IntentRow], through: int) -> None:
        self.known = through
        ledger = self.ledger
        self.deliver(lambda: ledger.apply_foreign(rows, through))

    def committed(self) -> None:
        """The open transaction committed (its own records, if any, are known now)."""
        if self.known is not None and self.pending is not None:
            self.known = max(self.known, self.pending)
        self.pending = None
        if self.checked:  # only a transaction that looked at the head makes the ledger current
            # a float store is atomic: the ledger only reads it to decide whether its knowledge is fresh
            self.ledger.synced_at = time.monotonic()
        self.checked = False

    def rolled_back(self) -> None:
        self.pending = None
        self.checked = False
