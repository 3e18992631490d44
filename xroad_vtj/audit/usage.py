"""Quota usage kept in process memory, exact as of the audit log, so that a quota check costs no store round trip.

Rules this module keeps:

* The ledger counts **intents** (queries sent or about to be sent), the same records the audit log holds: per
  caller (admission times of the last minute) and per ``(caller, end_user_key)`` (admission times of the last
  day and the blind indexes of the subjects asked about, each with the last time).
* An end user's state is loaded from the store the first time this process sees that end user (an indexed
  lookup of that end user's intents of the last day: its cost does not depend on the size of the log), so
  restarts keep counting. The callers' last minute is loaded when the store opens.
* This process's own admissions are counted when admitted (a reservation), and given back when the intent
  could not be written.
* Records other processes or replicas wrote ("foreign" records) reach the ledger in log order: the store's
  writer sees, under the log's lock, that the head moved past what it last knew, reads the intents in between
  by seq and hands them over before it releases its own batch. :meth:`UsageLedger.apply_foreign` applies each
  foreign record at most once (by seq); a state loaded later replays the ones newer than its snapshot.
* Knowledge is at most ``SYNC_SECONDS`` old, or fresher when a count is within ``near_limit`` of its limit
  (the policy then asks the store to sync first): across replicas, a limit can be passed only by queries the
  other replicas admitted in that moment, which is the guarantee counting in the store always gave.
"""

from __future__ import annotations

import bisect
import contextlib
import time
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from xroad_vtj.audit.chain import parse_iso

MINUTE = 60.0
DAY = 86_400.0
SYNC_SECONDS = 1.0  # how old the knowledge of other writers' records may be before a check syncs first
RECENT_FOREIGN = 20_000  # foreign intents remembered for states being loaded while they arrived
MAX_END_USERS = 200_000  # loaded end-user states kept; the least recently loaded idle ones go first


@dataclass(frozen=True, slots=True)
class IntentRow:
    """What quotas need of one intent record."""

    seq: int
    caller: str | None
    key: str | None  # end_user_key (NFKC, case-folded)
    subject_index: str | None
    at: float  # requested_at, epoch seconds


def intent_row(
    seq: int, caller: str | None, key: str | None, subject_index: str | None, at: str
) -> IntentRow:
    return IntentRow(seq, caller, key, subject_index, parse_iso(at).timestamp() if at else 0.0)


def near_limit(count: int, limit: int) -> bool:
    """Within a tenth of the limit (at least one): close enough that other replicas' recent queries matter."""
    return count >= limit - max(1, limit // 10)


def _insert_in_order(times: deque[float], at: float) -> None:
    """Keep admission times sorted: another replica's intent can be committed after a newer one of ours, and
    the windows are counted from the newest end."""
    if not times or at >= times[-1]:
        times.append(at)
    else:
        times.insert(bisect.bisect_right(times, at), at)


@dataclass(slots=True)
class EndUserUsage:
    through: int  # every record up to this seq is counted
    times: deque[float] = field(default_factory=deque)  # admissions, oldest first
    subjects: dict[str, float] = field(default_factory=dict)  # subject index -> last asked, oldest first

    def add(self, at: float, subject_index: str | None) -> float | None:
        """Count one intent; returns the subject's previous time (None: new subject) for :meth:`undo`."""
        _insert_in_order(self.times, at)
        if subject_index is None:
            return None
        previous = self.subjects.pop(subject_index, None)
        self.subjects[subject_index] = max(at, previous or at)
        return previous

    def undo(self, at: float, subject_index: str | None, previous: float | None) -> None:
        """Give back one intent counted by :meth:`add` at ``at``. The subject goes back to ``previous`` only if
        no later query asked about it meanwhile (simultaneous queries are given back in any order): otherwise
        the later query's time stays, which errs on the strict side."""
        with contextlib.suppress(ValueError):
            self.times.remove(at)
        if subject_index is not None and self.subjects.get(subject_index) == at:
            if previous is None:
                del self.subjects[subject_index]
            else:
                self.subjects[subject_index] = previous

    def prune(self, now: float) -> None:
        horizon = now - DAY
        times = self.times
        while times and times[0] < horizon:
            times.popleft()
        subjects = self.subjects
        while subjects:
            first = next(iter(subjects))
            if subjects[first] >= horizon:
                break
            del subjects[first]

    def since(self, moment: float) -> int:
        """Admissions at or after ``moment`` (counted from the newest: a minute is short)."""
        n = 0
        for at in reversed(self.times):
            if at < moment:
                break
            n += 1
        return n


@dataclass(slots=True)
class CallerUsage:
    through: int
    times: deque[float] = field(default_factory=deque)

    def prune(self, now: float) -> None:
        horizon = now - MINUTE
        while self.times and self.times[0] < horizon:
            self.times.popleft()


class UsageLedger:
    """In-memory quota counts; mutated only on the event loop."""

    def __init__(self) -> None:
        self.synced_seq = 0  # foreign records up to here have been applied
        self.synced_at = 0.0  # monotonic time of the last sync with the log
        self.callers: dict[str, CallerUsage] = {}
        self.callers_through = 0  # the callers' minute was loaded from the store up to this seq
        self.end_users: dict[tuple[str, str], EndUserUsage] = {}
        self._recent: deque[IntentRow] = deque(maxlen=RECENT_FOREIGN)
        self._recent_floor = 0  # foreign intents at or below this seq may have left the recent buffer

    def start(self, head: int, caller_rows: Iterable[IntentRow]) -> None:
        """Begin at log head ``head`` with the callers' intents of the last minute."""
        self.synced_seq = self.callers_through = head
        self._recent_floor = head
        self.synced_at = time.monotonic()
        self.callers.clear()
        self.end_users.clear()
        for row in caller_rows:
            if row.caller is not None:
                self.caller(row.caller).times.append(row.at)
        for usage in self.callers.values():
            usage.times = deque(sorted(usage.times))

    def caller(self, name: str) -> CallerUsage:
        usage = self.callers.get(name)
        if usage is None:
            usage = self.callers[name] = CallerUsage(self.callers_through)
        return usage

    def stale(self) -> bool:
        return time.monotonic() - self.synced_at > SYNC_SECONDS

    # --- records from the log ------------------------------------------------------------------------

    def apply_foreign(self, rows: Iterable[IntentRow], head: int) -> None:
        """Intents other writers committed, in seq order, and the head the writer saw them up to."""
        for row in rows:
            if row.seq <= self.synced_seq:
                continue  # already applied
            self._recent.append(row)
            self._apply(row)
        if len(self._recent) == self._recent.maxlen:
            self._recent_floor = max(self._recent_floor, self._recent[0].seq - 1)
        self.synced_seq = max(self.synced_seq, head)
        self.synced_at = time.monotonic()

    def synced(self, head: int) -> None:
        """The writer committed this process's own records up to ``head`` with nothing foreign before them."""
        self.synced_seq = max(self.synced_seq, head)
        self.synced_at = time.monotonic()

    def _apply(self, row: IntentRow) -> None:
        if row.caller is None:
            return
        usage = self.callers.get(row.caller)
        if usage is None:
            usage = self.caller(row.caller)
        if row.seq > usage.through:
            _insert_in_order(usage.times, row.at)
            usage.prune(row.at)  # bounded even for a caller whose per-caller quota is off (never checked)
        if row.key is not None:
            state = self.end_users.get((row.caller, row.key))
            if state is not None and row.seq > state.through:
                state.add(row.at, row.subject_index)

    # --- end users -----------------------------------------------------------------------------------

    def loaded(
        self,
        caller: str,
        key: str,
        through: int,
        rows: Iterable[IntentRow],
        in_use: Collection[tuple[str, str]],
    ) -> EndUserUsage | None:
        """Install an end user's state read from the store as of ``through``; None: load again (too old)."""
        if through < self._recent_floor and through < self.synced_seq:
            return None  # foreign records between its snapshot and now may have been forgotten
        state = EndUserUsage(through)
        for row in sorted(rows, key=lambda r: r.at):
            state.add(row.at, row.subject_index)
        for row in self._recent:
            if row.seq > through and row.caller == caller and row.key == key:
                state.add(row.at, row.subject_index)
        state.through = max(through, self.synced_seq)
        self._evict(in_use)
        self.end_users[(caller, key)] = state
        return state

    def _evict(self, in_use: Collection[tuple[str, str]]) -> None:
        """Keep memory bounded: a dropped state is loaded again, exactly, when next needed."""
        if len(self.end_users) < MAX_END_USERS:
            return
        for k in list(self.end_users)[: MAX_END_USERS // 10]:
            if k not in in_use:
                del self.end_users[k]
