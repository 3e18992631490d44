"""Refusal records, bounded per caller (issue 11 §6).

Every refused query is audited, but a caller that sends garbage in a loop must not be able to fill the audit log
(and its group commits) with one record per request. The rule, per process:

- the first 60 refusals of a caller in a calendar minute (UTC) are written one record each, as before;
- further refusals of that caller in that minute are counted, per reason, into one aggregate record: an
  ``refusals_aggregated`` event with ``caller``, ``reason``, ``count``, ``from`` and ``to`` (the minute), written
  when the minute has closed (at the next refusal or by a timer) or when the service shuts down;
- the ``policy_refusals`` metric still counts every refusal (the caller of :meth:`RefusalLog.record` does that).

The aggregate holds no personal data: the caller is a configured name and the reason a problem code.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from xroad_vtj.audit.chain import iso
from xroad_vtj.audit.records import Refusal
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.errors import AuditUnavailable
from xroad_vtj.logging import get_logger

__all__ = ["AGGREGATE_EVENT", "PER_CALLER_PER_MINUTE", "RefusalLog"]

log = get_logger("xroad_vtj.refusals")

PER_CALLER_PER_MINUTE = 60
AGGREGATE_EVENT = "refusals_aggregated"
_CLOSE_SLACK_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class _Key:
    caller: str | None
    reason: str
    minute: int  # whole minutes since the epoch


class RefusalLog:
    """Writes refusals to the audit store, each on its own up to the per-minute budget, counted beyond it."""

    def __init__(
        self,
        store: AuditStore,
        per_minute: int = PER_CALLER_PER_MINUTE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.per_minute = per_minute
        self.clock = clock
        self._written: dict[tuple[str | None, int], int] = {}
        self._counted: dict[_Key, int] = {}
        self._timer: asyncio.Task[None] | None = None
        self._minute = -1

    async def record(self, refusal: Refusal) -> None:
        """Audit ``refusal``: its own record within the budget, else counted. Raises ``AuditUnavailable``
        when its own record cannot be written."""
        minute = int(self.clock() // 60)
        if minute != self._minute:
            self._minute = minute
            await self.flush(before=minute)
        spent = self._written.get((refusal.caller, minute), 0)
        if spent < self.per_minute:
            self._written[(refusal.caller, minute)] = spent + 1
            await self.store.append_refusal(refusal)
            return
        key = _Key(refusal.caller, refusal.reason, minute)
        self._counted[key] = self._counted.get(key, 0) + 1
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_when_closed(minute), name="refusal-aggregates")

    async def flush(self, before: int | None = None) -> None:
        """Write the aggregates of minutes before ``before`` (every one when None) and forget their counts."""
        self._written = {k: v for k, v in self._written.items() if before is not None and k[1] >= before}
        for key in sorted(self._counted, key=lambda k: (k.minute, k.caller or "", k.reason)):
            if before is not None and key.minute >= before:
                continue
            count = self._counted.pop(key, 0)
            if not count:
                continue  # a concurrent flush took it
            details = {
                "caller": key.caller,
                "reason": key.reason,
                "count": count,
                "from": _iso(key.minute),
                "to": _iso(key.minute + 1),
            }
            try:
                await self.store.append_event(AGGREGATE_EVENT, details)
            except AuditUnavailable:
                if before is not None:
                    self._counted[key] = self._counted.get(key, 0) + count  # the next flush tries again
                    return
                log.warning("refusals_not_audited", caller=key.caller, reason=key.reason, count=count)
                continue
            log.warning("refusals_aggregated", caller=key.caller, reason=key.reason, count=count)

    async def close(self) -> None:
        """At shutdown: stop the timer and write every aggregate still open."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self.flush()

    async def _flush_when_closed(self, minute: int) -> None:
        await asyncio.sleep(max(0.0, (minute + 1) * 60 - self.clock()) + _CLOSE_SLACK_SECONDS)
        try:
            await self.flush(before=int(self.clock() // 60))
        except Exception as e:  # the counts stay; the next refusal or the shutdown writes them
            log.warning("refusal_aggregates_failed", error=type(e).__name__)
        if self._counted:  # counted in a later minute while this one closed
            self._timer = asyncio.create_task(
                self._flush_when_closed(int(self.clock() // 60)), name="refusal-aggregates"
            )


def _iso(minute: int) -> str:
    return iso(datetime.fromtimestamp(minute * 60, UTC))
