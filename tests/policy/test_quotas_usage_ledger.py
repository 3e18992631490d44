"""The in-memory ledger on its own: windows, order, each foreign record once, replay for states loaded late."""

from __future__ import annotations

import time

from xroad_vtj.audit.usage import MINUTE, EndUserUsage, IntentRow, UsageLedger, near_limit


def row(seq: int, at: float, key: str = "u", subject: str | None = "s1", caller: str = "app") -> IntentRow:
    return IntentRow(seq, caller, key, subject, at)


def test_an_older_intent_committed_later_is_still_counted_in_its_minute() -> None:
    now = time.time()
    state = EndUserUsage(through=0)
    state.add(now, "a")
    state.add(now - 30, "b")  # another replica's, requested earlier, committed after ours
    state.add(now - 3600, "c")
    assert state.since(now - MINUTE) == 2
    assert list(state.times) == sorted(state.times)


def test_foreign_records_apply_once_and_only_to_loaded_states_newer_than_their_snapshot() -> None:
    now = time.time()
    ledger = UsageLedger()
    ledger.start(10, [])
    state = ledger.loaded("app", "u", 10, [], in_use=())
    assert state is not None
    ledger.apply_foreign([row(11, now), row(12, now, key="other")], 12)
    ledger.apply_foreign([row(11, now), row(12, now, key="other"), row(13, now, subject="s2")], 13)
    assert len(state.times) == 2 and set(state.subjects) == {"s1", "s2"}
    assert len(ledger.caller("app").times) == 3


def test_a_state_loaded_from_an_older_snapshot_replays_the_foreign_records_after_it() -> None:
    now = time.time()
    ledger = UsageLedger()
    ledger.start(10, [])
    ledger.apply_foreign([row(11, now), row(12, now, subject="s2")], 12)
    # the load's snapshot saw the log up to 11 only: record 12 arrived while it was read
    state = ledger.loaded("app", "u", 11, [row(11, now)], in_use=())
    assert state is not None and len(state.times) == 2


def test_day_windows_forget_old_subjects() -> None:
    now = time.time()
    state = EndUserUsage(through=0)
    state.add(now - 90_000, "old")
    state.add(now, "new")
    state.prune(now)
    assert list(state.subjects) == ["new"] and len(state.times) == 1


def test_near_means_within_a_tenth_of_the_limit() -> None:
    assert not near_limit(17, 20) and near_limit(18, 20)
    assert not near_limit(3, 5) and near_limit(4, 5)
    assert near_limit(0, 1)


def test_a_callers_minute_stays_bounded_even_when_nothing_checks_it() -> None:
    ledger = UsageLedger()
    ledger.start(0, [])
    start = time.time() - 3600
    ledger.apply_foreign([row(seq, start + seq, key=f"k{seq}") for seq in range(1, 3601)], 3600)
    assert len(ledger.caller("app").times) <= 61
