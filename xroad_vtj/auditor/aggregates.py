"""The overview's numbers, computed from stored record bodies without decrypting a single subject.

Input is what :meth:`AuditStore.raw_window` returns: ``(seq, kind, body, newest outcome body)`` for every
intent and refusal in the window. Distinct subjects are counted by their blind index (``subject_index``),
which identifies a person under one data key without revealing who it is. Days are calendar days in
Europe/Helsinki, the zone the auditors and DVV work in.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from xroad_vtj.audit.chain import iso
from xroad_vtj.auditor.present import HELSINKI

DAYS = 30
TOP = 10
QUOTA_REASON = "quota_exceeded"
PENDING = "pending"  # an intent without outcome yet: in flight, or its process died before the sweep
REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    by_outcome: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_outcome.values())


@dataclass(frozen=True, slots=True)
class CallerRow:
    caller: str
    queries: int
    refusals: int


@dataclass(frozen=True, slots=True)
class EndUserRow:
    caller: str
    end_user: str
    subjects: int  # distinct blind indexes
    queries: int


@dataclass(frozen=True, slots=True)
class Overview:
    since: datetime  # start of the first day, Helsinki time
    week_start: datetime
    days: list[Day]
    outcomes: list[str]  # every outcome seen, most frequent first (the chart's legend order)
    by_caller: list[CallerRow]
    refusals_by_reason: list[tuple[str, int]]
    quota_hits: list[tuple[str, str, int]]  # caller, end user, refusals for quota_exceeded
    top_end_users: list[EndUserRow]
    truncated: bool = False
    totals: dict[str, int] = field(default_factory=dict)


def window_start(now: datetime, days: int = DAYS) -> datetime:
    """Midnight (Helsinki) of the first of the last ``days`` calendar days, today included."""
    today = now.astimezone(HELSINKI).date()
    return datetime.combine(today - timedelta(days=days - 1), time(0), HELSINKI)


def week_start(now: datetime) -> datetime:
    """Monday 00:00 (Helsinki) of the current week."""
    today = now.astimezone(HELSINKI).date()
    return datetime.combine(today - timedelta(days=today.weekday()), time(0), HELSINKI)


class Counts:
    """The overview's counters, fed one chunk of rows at a time (a day of a busy store need not sit in memory
    beside the other 29)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.since = window_start(now)
        self.monday = week_start(now)
        first_day = self.since.date()
        self.per_day: dict[date, Counter[str]] = {
            first_day + timedelta(days=i): Counter() for i in range(DAYS)
        }
        # Stored times are fixed-width UTC ISO text, so text order is time order: a row's day is found by
        # bisecting the days' starts, without parsing a date per row.
        self._days = list(self.per_day)
        self._starts = [iso(datetime.combine(d, time(0), HELSINKI)) for d in self._days]
        self._starts.append(iso(datetime.combine(self._days[-1] + timedelta(days=1), time(0), HELSINKI)))
        self._monday = iso(self.monday)
        self.outcome_totals: Counter[str] = Counter()
        self.queries: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.quota: Counter[tuple[str, str]] = Counter()
        self.subjects: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.week_queries: Counter[tuple[str, str]] = Counter()
        self.truncated = False

    def add(self, rows: Iterable[tuple[int, str, str, str | None]]) -> None:
        for _seq, kind, body, outcome_body in rows:
            rec: dict[str, Any] = json.loads(body)
            requested: str = rec["requested_at"]
            slot = bisect_right(self._starts, requested) - 1
            caller = rec.get("caller") or "-"
            end_user = rec.get("end_user") or "-"
            if kind == "refusal":
                outcome = REFUSED
                self.refusals[caller] += 1
                reason = rec.get("reason") or "-"
                self.reasons[reason] += 1
                if reason == QUOTA_REASON:
                    self.quota[(caller, end_user)] += 1
            else:
                outcome = (json.loads(outcome_body).get("outcome") or PENDING) if outcome_body else PENDING
                self.queries[caller] += 1
                if requested >= self._monday:
                    self.week_queries[(caller, end_user)] += 1
                    if rec.get("subject_index"):
                        self.subjects[(caller, end_user)].add(rec["subject_index"])
            if 0 <= slot < DAYS:
                self.per_day[self._days[slot]][outcome] += 1
                self.outcome_totals[outcome] += 1

    def result(self) -> Overview:
        queries, refusals = self.queries, self.refusals
        callers = sorted(set(queries) | set(refusals), key=lambda c: (-(queries[c] + refusals[c]), c))
        top = sorted(
            (EndUserRow(c, u, len(s), self.week_queries[(c, u)]) for (c, u), s in self.subjects.items()),
            key=lambda r: (-r.subjects, -r.queries, r.caller, r.end_user),
        )[:TOP]
        return Overview(
            since=self.since,
            week_start=self.monday,
            days=[Day(d, dict(c)) for d, c in sorted(self.per_day.items())],
            outcomes=[o for o, _ in sorted(self.outcome_totals.items(), key=lambda kv: (-kv[1], kv[0]))],
            by_caller=[CallerRow(c, queries[c], refusals[c]) for c in callers],
            refusals_by_reason=sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])),
            quota_hits=sorted(
                ((c, u, n) for (c, u), n in self.quota.items()), key=lambda t: (-t[2], t[0], t[1])
            ),
            top_end_users=top,
            truncated=self.truncated,
            totals=dict(self.outcome_totals),
        )


def aggregate(
    rows: Iterable[tuple[int, str, str, str | None]], now: datetime, *, truncated: bool = False
) -> Overview:
    counts = Counts(now)
    counts.add(rows)
    counts.truncated = truncated
    return counts.result()
