"""Retention: whole months older than ``audit.retention_years`` (at least five) are removed, as an audit
event.

Because a record's period never decreases along the chain, the removed months are always a prefix of the log.
In the same write transaction that removes them, a ``retention`` event is appended to the chain; it names the
removed range and the hash of the last removed record. ``verify`` starts the chain from that hash, so the
log stays verifiable, and the signed checkpoints of the removed range are kept (their signatures still verify;
the one at the last removed record is compared with the event's hash).

The database refuses on its own to remove anything from the last five years: SQLite through a trigger on the
retention permit, PostgreSQL inside the owner-only ``remove_period`` function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import period_of
from xroad_vtj.audit.keys import Keyring


@dataclass(frozen=True, slots=True)
class RetentionResult:
    keep_from_period: int  # the oldest month kept (YYYYMM)
    removed_records: int
    first_removed_seq: int | None
    last_removed_seq: int | None
    periods: tuple[int, ...]

    def summary(self) -> str:
        if not self.removed_records:
            return f"retention: nothing older than {self.keep_from_period} to remove"
        return (
            f"retention: removed {self.removed_records} records (seq {self.first_removed_seq}.."
            f"{self.last_removed_seq}) of {len(self.periods)} months before {self.keep_from_period}"
        )


def keep_from_period(now: datetime, years: int) -> int:
    """The month ``years`` before ``now``: it and every later month are kept (it is only partly old)."""
    try:
        then = now.replace(year=now.year - years)
    except ValueError:  # 29 February
        then = now.replace(year=now.year - years, day=28)
    return period_of(then)


def previous_period(period: int) -> int:
    return period - 89 if period % 100 == 1 else period - 1


def event_body(
    instance: str,
    *,
    years: int,
    keep_from: int,
    first_seq: int,
    last_seq: int,
    last_hash: bytes,
    count: int,
    periods: tuple[int, ...],
    keyring: Keyring | None = None,
) -> str:
    return codec.event_body(
        "retention",
        instance,
        {
            "retention_years": years,
            "kept_from_period": keep_from,
            "removed_periods": list(periods),
            "removed_records": count,
            "first_removed_seq": first_seq,
            "last_removed_seq": last_seq,
            "last_removed_hash": last_hash.hex(),
        },
        keyring,
    )


class _Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def __iter__(self) -> Any: ...


class Connection(Protocol):
    """What both dialects' synchronous connections offer (sqlite3, psycopg): ``execute`` returns a cursor."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Plan:
    result: RetentionResult
    body: str | None  # the retention event to chain (None: nothing to remove)


def plan(
    conn: Connection,
    records: str,
    mark: str,
    instance: str,
    years: int,
    keep_from: int,
    keyring: Keyring | None,
) -> Plan:
    """What retention removes and the event that says so, read under the log's lock in the caller's
    transaction (both dialects: the SQL differs only in the table and the placeholder)."""
    row = conn.execute(
        f"SELECT min(seq), max(seq), count(*) FROM {records} WHERE period < {mark}",  # noqa: S608  # own names
        (keep_from,),
    ).fetchone()
    if row is None or not row[2]:
        return Plan(RetentionResult(keep_from, 0, None, None, ()), None)
    first, last, count = int(row[0]), int(row[1]), int(row[2])
    found = conn.execute(f"SELECT hash FROM {records} WHERE seq = {mark}", (last,)).fetchone()  # noqa: S608
    periods = tuple(
        int(r[0])
        for r in conn.execute(
            f"SELECT DISTINCT period FROM {records} WHERE period < {mark} ORDER BY period",  # noqa: S608
            (keep_from,),
        )
    )
    body = event_body(
        instance,
        years=years,
        keep_from=keep_from,
        first_seq=first,
        last_seq=last,
        last_hash=bytes(found[0]),
        count=count,
        periods=periods,
        keyring=keyring,
    )
    return Plan(RetentionResult(keep_from, count, first, last, periods), body)
