"""The overview's numbers from raw record bodies: Helsinki days, outcomes, refusals, distinct subjects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from xroad_vtj.audit.chain import canonical_body, iso
from xroad_vtj.auditor.aggregates import aggregate, week_start, window_start
from xroad_vtj.auditor.present import day_end, day_start, local

NOW = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # a Monday, the day after the change to summer time


def _intent(at: datetime, *, caller: str = "caseapp", end_user: str = "u1", index: str = "idx-a") -> str:
    # the subject is not decryptable here on purpose: the aggregates must never try
    return canonical_body(
        {
            "kind": "intent",
            "audit_id": "a",
            "caller": caller,
            "end_user": end_user,
            "requested_at": iso(at),
            "subject": "k0:not-a-ciphertext",
            "subject_index": index,
        }
    )


def _refusal(at: datetime, reason: str, *, end_user: str = "u1") -> str:
    return canonical_body(
        {
            "kind": "refusal",
            "audit_id": "r",
            "caller": "caseapp",
            "end_user": end_user,
            "requested_at": iso(at),
            "reason": reason,
        }
    )


def _outcome(name: str) -> str:
    return json.dumps({"kind": "outcome", "outcome": name})


def _rows(*items: tuple[str, str, str | None]) -> list[tuple[int, str, str, str | None]]:
    return [(i + 1, kind, body, out) for i, (kind, body, out) in enumerate(items)]


def test_days_are_helsinki_calendar_days() -> None:
    late = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)  # 00:30 on 29 March in Helsinki (+02:00)
    data = aggregate(_rows(("intent", _intent(late), _outcome("found"))), NOW)
    by_day = {d.day.isoformat(): d.by_outcome for d in data.days}
    assert by_day["2026-03-29"] == {"found": 1}
    assert by_day["2026-03-28"] == {}
    assert len(data.days) == 30 and data.days[-1].day.isoformat() == "2026-03-30"


def test_outcomes_refusals_reasons_and_quota_hits() -> None:
    at = NOW - timedelta(hours=1)
    data = aggregate(
        _rows(
            ("intent", _intent(at), _outcome("found")),
            ("intent", _intent(at, caller="taxapp"), _outcome("not_found")),
            ("intent", _intent(at), None),
            ("refusal", _refusal(at, "quota_exceeded", end_user="u9"), None),
            ("refusal", _refusal(at, "quota_exceeded", end_user="u9"), None),
            ("refusal", _refusal(at, "invalid_hetu"), None),
        ),
        NOW,
    )
    assert data.totals == {"found": 1, "not_found": 1, "pending": 1, "refused": 3}
    assert data.outcomes[0] == "refused"
    assert [(r.caller, r.queries, r.refusals) for r in data.by_caller] == [
        ("caseapp", 2, 3),
        ("taxapp", 1, 0),
    ]
    assert data.refusals_by_reason == [("quota_exceeded", 2), ("invalid_hetu", 1)]
    assert data.quota_hits == [("caseapp", "u9", 2)]


def test_end_users_are_ranked_by_distinct_subjects_this_week_by_blind_index() -> None:
    monday = week_start(NOW)
    before = monday - timedelta(hours=1)
    rows = _rows(
        ("intent", _intent(monday, end_user="u1", index="x"), _outcome("found")),
        ("intent", _intent(monday, end_user="u1", index="x"), _outcome("found")),
        ("intent", _intent(monday, end_user="u2", index="x"), _outcome("found")),
        ("intent", _intent(monday, end_user="u2", index="y"), _outcome("found")),
        ("intent", _intent(before, end_user="u1", index="z"), _outcome("found")),  # last week
    )
    data = aggregate(rows, NOW)
    assert [(r.end_user, r.subjects, r.queries) for r in data.top_end_users] == [("u2", 2, 2), ("u1", 1, 2)]


def test_records_outside_the_window_do_not_count_per_day() -> None:
    old = window_start(NOW) - timedelta(seconds=1)
    data = aggregate(_rows(("intent", _intent(old), _outcome("found"))), NOW)
    assert sum(d.total for d in data.days) == 0


def test_times_show_helsinki_with_the_offset_in_winter_and_summer() -> None:
    assert local(datetime(2026, 1, 15, 10, 0, tzinfo=UTC)) == "2026-01-15 12:00:00 +02:00"
    assert local(datetime(2026, 7, 15, 10, 0, tzinfo=UTC)) == "2026-07-15 13:00:00 +03:00"
    assert local("2026-07-15T10:00:00.000000Z") == "2026-07-15 13:00:00 +03:00"


def test_form_dates_are_helsinki_days_and_to_is_inclusive() -> None:
    start, end = day_start("2026-03-29"), day_end("2026-03-29")
    assert start is not None and end is not None
    assert start.astimezone(UTC) == datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 3, 29, 21, 0, tzinfo=UTC)  # 23 hours: clocks went forward
