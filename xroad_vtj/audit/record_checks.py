"""What ``audit verify`` checks in each record's body, beyond the hash chain.

The chain proves order and integrity but has no secret; these rules are what a writer without the audit data
key cannot satisfy, and what keeps retention sound:

* **Record MAC** (:mod:`xroad_vtj.audit.mac`): every record carries one. Records without one are accepted only
  before the first record that has one (logs written before record MACs existed); after it, a record without
  a MAC was appended by someone without the key. A MAC under a key that is not configured fails too.
* **No replays.** A MAC authenticates a body, not its place: a copy of an authentic record appended again
  would verify. So an authenticated record may not be recorded (``recorded_at``) more than
  :data:`REPLAY_WINDOW` before an authenticated record ahead of it in the log, and within that window no MAC
  may appear twice. (Replicas' clocks must agree within the window.)
* **Periods**: never smaller than the previous record's, and never later than the month after the record's own
  ``requested_at``/``recorded_at`` - a period far ahead would pull every later record into it (retention
  could never remove them).
* **Coverage** (collected here, judged by :mod:`verify`): authenticated records after the newest checkpoint
  that were recorded before ``stale_before``, and whether unauthenticated ones lie there.

Times are read from the stored bytes without parsing JSON: a body is canonical (fixed-width ISO times,
``"`` inside strings always escaped), so ``"recorded_at":"`` can only be that key.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from xroad_vtj.audit.keys import Keyring
from xroad_vtj.audit.mac import Mac, MacChecker

REPLAY_WINDOW = timedelta(hours=1)
_RECORDED = b'"recorded_at":"'
_REQUESTED = b'"requested_at":"'
_TIME_LEN = len("2026-11-26T16:30:14.123456Z")


def _time(body: bytes, key: bytes) -> bytes | None:
    at = body.find(key)
    if at < 0:
        return None
    start = at + len(key)
    return body[start : start + _TIME_LEN]


def _month(stamp: bytes) -> int:
    return int(stamp[0:4]) * 100 + int(stamp[5:7])  # ValueError when it is not a time


def _own_month(body: bytes, recorded: bytes | None) -> int | None:
    """The later month of the body's ``recorded_at`` and ``requested_at`` (None without a readable time)."""
    months = []
    for stamp in (recorded, _time(body, _REQUESTED)):
        if stamp is not None:
            with contextlib.suppress(ValueError):  # not a time (only a record without a valid MAC holds one)
                months.append(_month(stamp))
    return max(months, default=None)


def _next_month(period: int) -> int:
    return period + 89 if period % 100 == 12 else period + 1


@dataclass(slots=True)
class BodyFindings:
    problem: str | None = None
    bad_seq: int | None = None
    mac_invalid: bool = False  # the problem is a body that does not match its MAC (content altered)
    first_authenticated: int | None = None
    unauthenticated: int = 0  # records before the first authenticated one
    stale_first: int | None = None  # authenticated records past the newest checkpoint, older than allowed
    stale_last: int | None = None
    uncovered_unauthenticated: bool = False


class BodyChecker:
    """Feed it the stored rows in seq order; it stops at the first problem."""

    def __init__(
        self,
        keyring: Keyring,
        *,
        covered_through: int,
        stale_before: datetime,
        window: timedelta = REPLAY_WINDOW,
    ) -> None:
        self.found = BodyFindings()
        self._mac = MacChecker(keyring)
        self._covered_through = covered_through
        self._stale_before = stale_before
        self._window = window
        self._period = 0
        self._limits: dict[bytes, int] = {}  # recorded month ("2026-11") -> the latest period it allows
        self._top: datetime | None = None  # the latest authenticated recorded_at so far
        self._recent: deque[tuple[datetime, bytes]] = deque()
        self._seen: dict[bytes, int] = {}

    def _fail(self, seq: int, problem: str) -> bool:
        self.found.problem, self.found.bad_seq = problem, seq
        return False

    def feed(self, rows: Iterable[tuple[int, int, bytes | str, bytes]]) -> bool:
        """Check ``rows``; False once a problem is found (``found`` says which)."""
        found = self.found
        for seq, period, raw, _ in rows:
            body = raw.encode() if isinstance(raw, str) else bytes(raw)
            if period < self._period:
                return self._fail(
                    seq,
                    f"record {seq} is in period {period}, before period {self._period} of the record before "
                    "it (periods never go back)",
                )
            self._period = period
            verdict, tag = self._mac.check(body)
            if verdict is Mac.INVALID:
                found.mac_invalid = True
                return self._fail(
                    seq, f"record {seq} was altered (its content does not match its record MAC)"
                )
            if verdict is Mac.UNKNOWN_KEY:
                return self._fail(
                    seq,
                    f"record {seq}: its record MAC names audit data key {self._mac.last_kid}, which is not "
                    "configured (forged, or a key missing from audit.previous_data_key_files)",
                )
            if verdict is Mac.ABSENT and found.first_authenticated is not None:
                return self._fail(
                    seq,
                    f"record {seq} has no record MAC, but record {found.first_authenticated} before it has one "
                    "(appended without the audit data key)",
                )
            recorded = _time(body, _RECORDED)
            limit = self._limits.get(recorded[:7]) if recorded is not None else None
            if limit is None or period > limit:  # the usual case: one look-up by the recorded month
                own = _own_month(body, recorded)
                if own is not None and period > _next_month(own):
                    return self._fail(
                        seq,
                        f"record {seq} is in period {period}, later than the month after it was requested or "
                        "recorded (periods follow requested_at)",
                    )
                if recorded is not None and len(self._limits) < 1000:
                    with contextlib.suppress(ValueError):
                        self._limits[recorded[:7]] = _next_month(_month(recorded))
            if verdict is Mac.ABSENT:
                found.unauthenticated += 1
                if seq > self._covered_through:
                    found.uncovered_unauthenticated = True
                continue
            if found.first_authenticated is None:
                found.first_authenticated = seq
            if recorded is None:  # the service writes recorded_at in every body it authenticates
                return self._fail(seq, f"record {seq} has no recorded_at")
            try:
                at = datetime.fromisoformat(recorded.decode())
            except ValueError:
                return self._fail(seq, f"record {seq} has no valid recorded_at")
            if self._top is not None and at < self._top - self._window:
                return self._fail(
                    seq,
                    f"record {seq} was recorded at {recorded.decode()}, more than "
                    f"{int(self._window.total_seconds() // 60)} minutes before a record ahead of it "
                    "(a copy of an older record appended again?)",
                )
            earlier = self._seen.get(tag)
            if earlier is not None:
                return self._fail(
                    seq, f"record {seq} repeats record {earlier} (an authentic record appended again)"
                )
            if self._top is None or at > self._top:
                self._top = at
            self._seen[tag] = seq
            self._recent.append((at, tag))
            horizon = self._top - self._window
            while self._recent and self._recent[0][0] < horizon:
                self._seen.pop(self._recent.popleft()[1], None)
            if seq > self._covered_through and at < self._stale_before:
                if found.stale_first is None:
                    found.stale_first = seq
                found.stale_last = seq
        return True
