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
