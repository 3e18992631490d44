from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xroad_vtj.audit.filters import count_where, search_where


def in_list(column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def test_search_where_adds_one_condition_per_given_filter_in_parameter_order() -> None:
    where, params = search_where(
        "?",
        in_list,
        table="t",
        xroad_id="id-1",
        end_user=None,
        subject_indexes=["a", "b"],
        since="S",
        until="U",
    )
    assert where == (
        "kind IN ('intent', 'refusal') AND xroad_message_id = ? AND seq IN (SELECT seq FROM t WHERE"
        " subject_index IN (?, ?) UNION ALL SELECT seq FROM t WHERE kind = 'intent' AND audit_id IN"
        " (SELECT audit_id FROM t WHERE new_subject_index IN (?, ?) AND kind = 'outcome'))"
        " AND requested_at >= ? AND requested_at < ?"
    )
    assert params == ["id-1", "a", "b", "a", "b", "S", "U"]


def test_search_where_filters_by_caller() -> None:
    where, params = search_where(
        "?",
        in_list,
        table="t",
        xroad_id=None,
        end_user="u",
        subject_indexes=None,
        since=None,
        until=None,
        caller="app",
    )
    assert where == "kind IN ('intent', 'refusal') AND end_user = ? AND caller = ?"
    assert params == ["u", "app"]


def test_search_where_without_filters_selects_every_intent_and_refusal() -> None:
    assert search_where(
        "%s", in_list, table="t", xroad_id=None, end_user=None, subject_indexes=None, since=None, until=None
    ) == ("kind IN ('intent', 'refusal')", [])


def test_count_where_counts_intents_since_for_the_given_caller_and_end_user() -> None:
    assert count_where("%s", since="S", caller="app", end_user="u") == (
        "kind = 'intent' AND requested_at >= %s AND caller = %s AND end_user = %s",
        ["S", "app", "u"],
    )
    assert count_where("?", since="S", caller=None, end_user=None) == (
        "kind = 'intent' AND requested_at >= ?",
        ["S"],
    )
