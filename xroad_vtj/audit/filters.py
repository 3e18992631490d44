"""The WHERE clauses of audit searches and quota counts, shared by the SQLite and PostgreSQL stores.

Both stores filter the same generated columns with the same meaning (``since`` inclusive, ``until``
exclusive); only the placeholder and the way a list is matched differ, which the caller passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# Renders "column matches any of values" for one backend: (SQL fragment, its parameters).
AnyOf = Callable[[str, Sequence[str]], tuple[str, list[Any]]]


def search_where(
    mark: str,
    any_of: AnyOf,
    *,
    table: str,
    xroad_id: str | None,
    end_user: str | None,
    subject_indexes: Sequence[str] | None,
    since: str | None,
    until: str | None,
    caller: str | None = None,
) -> tuple[str, list[Any]]:
    """Conditions selecting intent and refusal rows for a search, with their parameters.

    A subject matches a record's own subject, or the new hetu a passivated answer gave (an outcome's
    ``new_subject_index``): a search by the new hetu finds the query whose data came back under it."""
    where = ["kind IN ('intent', 'refusal')"]
    params: list[Any] = []
    for condition, value in (
        ("xroad_message_id = ", xroad_id),
        ("end_user = ", end_user),
        ("caller = ", caller),
    ):
        if value is not None:
            where.append(condition + mark)
            params.append(value)
    if subject_indexes is not None:
        fragment, values = any_of("subject_index", subject_indexes)
        renamed, renamed_values = any_of("new_subject_index", subject_indexes)
        # two index lookups joined by seq (an OR across two indexes would scan the table on SQLite)
        where.append(
            f"seq IN (SELECT seq FROM {table} WHERE {fragment}"  # noqa: S608  # own names
            f" UNION ALL SELECT seq FROM {table} WHERE kind = 'intent' AND audit_id IN"
            f" (SELECT audit_id FROM {table} WHERE {renamed} AND kind = 'outcome'))"
        )
        params += values + renamed_values
    for condition, value in (("requested_at >= ", since), ("requested_at < ", until)):
        if value is not None:
            where.append(condition + mark)
            params.append(value)
    return " AND ".join(where), params


def count_where(mark: str, *, since: str, caller: str | None, end_user: str | None) -> tuple[str, list[Any]]:
    """Conditions selecting the intents a quota counts, with their parameters."""
    where = ["kind = 'intent'", f"requested_at >= {mark}"]
    params: list[Any] = [since]
    for condition, value in (("caller = ", caller), ("end_user = ", end_user)):
        if value is not None:
            where.append(condition + mark)
            params.append(value)
    return " AND ".join(where), params
