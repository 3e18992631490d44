"""Behaviour every audit store promises, whatever the backend."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.audit.helpers import HETUS, intent, outcome, refusal
from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import GENESIS, iso
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.core import WriteTx
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.errors import AuditUnavailable
from xroad_vtj.metrics import Metrics


async def test_an_intent_is_durable_and_searchable_after_a_restart(
    store: AuditStore, config: AuditConfig
) -> None:
    audit_id = await store.append_intent(intent(1))
    await store.close()
    reopened = open_store(config, instance="test-2")
    await reopened.open()
    try:
        [found] = await reopened.search(xroad_id="msg-1")
    finally:
        await reopened.close()
    assert found["audit_id"] == audit_id
    assert found["kind"] == "query"
    assert found["subject"] == HETUS[0]
    assert found["caller"] == "caseapp"
    assert found["end_user"] == "officer-1"
    assert found["purpose"] == "case-1"
    assert found["product"] == "PERUSSANOMA 1"
    assert found["request_sha512"] == "c2hhNTEy"
    assert found["outcome"] is None  # no outcome yet
    assert found["requested_at"].endswith("Z")


async def test_an_outcome_is_joined_to_its_intent_in_search(store: AuditStore) -> None:
    audit_id = await store.append_intent(intent(1))
    await store.append_outcome(
        audit_id,
        outcome(
            "upstream_fault",
            http_status=502,
            fault_code="Server.ServerProxy.X",
            fault_detail="abc-1",
            fault_family="provider_security_server",
            return_code=None,
            data_categories=(),
        ),
    )
    [found] = await store.search(xroad_id="msg-1")
    assert found["outcome"] == "upstream_fault"
    assert found["fault_code"] == "Server.ServerProxy.X"
    assert found["fault_detail"] == "abc-1"
    assert found["latency_seconds"] == 0.125
    assert found["http_status"] == 502
    assert found["data_categories"] == []
    assert found["completed_at"].endswith("Z")


async def test_the_newest_outcome_of_a_query_wins(store: AuditStore) -> None:
    audit_id = await store.append_intent(intent(1))
    await store.append_outcome(audit_id, outcome("outcome_unknown"))
    await store.append_outcome(audit_id, outcome("found"))
    [found] = await store.search(xroad_id="msg-1")
    assert found["outcome"] == "found"


async def test_a_refusal_is_recorded_as_refused_with_its_reason(store: AuditStore) -> None:
    audit_id = await store.append_refusal(refusal(subject="123456-7890"))
    nobody = await store.append_refusal(refusal(subject=None, reason="unauthenticated"))
    found = await store.search(end_user="officer-1")
    assert [f["audit_id"] for f in found] == [audit_id, nobody]
    assert found[0]["kind"] == "refusal"
    assert found[0]["outcome"] == "refused"
    assert found[0]["reason"] == "invalid_hetu"
    assert found[0]["subject"] == "123456-7890"
    assert found[1]["subject"] is None
    assert (await store.search(subject="123456-7890"))[0]["audit_id"] == audit_id


async def test_search_filters_by_subject_end_user_and_time(store: AuditStore) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    await store.append_intent(intent(1, subject=HETUS[0], end_user="a", requested_at=t0))
    await store.append_intent(intent(2, subject=HETUS[1], end_user="a", requested_at=t0 + timedelta(hours=1)))
    await store.append_intent(intent(3, subject=HETUS[0], end_user="b", requested_at=t0 + timedelta(hours=2)))

    def ids(rows: list[dict[str, object]]) -> list[object]:
        return [r["xroad_message_id"] for r in rows]

    assert ids(await store.search(subject=HETUS[0])) == ["msg-1", "msg-3"]
    assert ids(await store.search(subject=HETUS[0].lower())) == ["msg-1", "msg-3"]
    assert ids(await store.search(end_user="a")) == ["msg-1", "msg-2"]
    assert ids(await store.search(end_user="a", subject=HETUS[1])) == ["msg-2"]
    assert ids(await store.search(since=t0 + timedelta(hours=1))) == ["msg-2", "msg-3"]
    assert ids(await store.search(until=t0 + timedelta(hours=1))) == ["msg-1"]
    assert ids(await store.search(limit=2)) == ["msg-1", "msg-2"]
    assert await store.search(xroad_id="no-such") == []


async def test_search_by_caller_is_a_store_filter_applied_before_the_limit(store: AuditStore) -> None:
    for n in range(1, 6):
        await store.append_intent(intent(n, caller="caseapp"))
    await store.append_intent(intent(6, caller="taxapp"))
    await store.append_refusal(refusal())  # caller caseapp
    rows = await store.search(caller="taxapp", limit=1)
    assert [r["xroad_message_id"] for r in rows] == ["msg-6"]  # not lost behind caseapp's older records
    assert len(await store.search(caller="caseapp")) == 6
    assert await store.search(caller="nobody") == []


async def test_concurrent_appends_get_one_gap_free_order(store: AuditStore) -> None:
    ids = await asyncio.gather(*(store.append_intent(intent(i)) for i in range(300)))
    assert len(set(ids)) == 300
    rows = await store.search(limit=1000)
    assert [r["seq"] for r in rows] == list(range(1, 301))


async def test_quota_counts_come_from_intents(store: AuditStore) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    for i, subject in enumerate((HETUS[0], HETUS[1], HETUS[0])):
        await store.append_intent(intent(i, subject=subject, end_user="a"))
    await store.append_intent(intent(9, subject=HETUS[2], end_user="b", caller="other"))
    await store.append_refusal(refusal())
    assert await store.count_queries(since=start) == 4
    assert await store.count_queries(since=start, caller="caseapp") == 3
    assert await store.count_queries(since=start, end_user="b") == 1
    assert await store.count_queries(since=datetime.now(UTC) + timedelta(hours=1)) == 0
    assert await store.count_distinct_subjects(since=start, caller="caseapp", end_user="a") == 2
    assert await store.count_distinct_subjects(since=start, caller=None, end_user="b") == 1


async def test_open_intents_of_this_instance_or_older_than_the_bound_become_outcome_unknown(
    config: AuditConfig,
) -> None:
    old = datetime.now(UTC) - timedelta(hours=1)
    other = open_store(config, instance="other")
    await other.open()
    await other.append_intent(intent(1, requested_at=old))  # other replica, old: marked
    await other.append_intent(intent(2))  # other replica, recent: left alone (may be in flight)
    done = await other.append_intent(intent(3, requested_at=old))
    await other.append_outcome(done, outcome("found"))
    await other.close()

    me = open_store(config, instance="me")
    await me.open()
    try:
        await me.append_intent(intent(4))  # this instance's own: marked
        marked = await me.mark_unfinished_unknown(older_than=datetime.now(UTC) - timedelta(minutes=5))
        assert marked == 2
        outcomes = {r["xroad_message_id"]: r["outcome"] for r in await me.search()}
        assert outcomes == {
            "msg-1": "outcome_unknown",
            "msg-2": None,
            "msg-3": "found",
            "msg-4": "outcome_unknown",
        }
        assert await me.mark_unfinished_unknown(older_than=datetime.now(UTC) - timedelta(minutes=5)) == 0
        assert await me.mark_unfinished_unknown(older_than=datetime.now(UTC) + timedelta(seconds=1)) == 1
    finally:
        await me.close()


async def test_appends_are_counted_in_metrics(store: AuditStore, metrics: Metrics) -> None:
    audit_id = await store.append_intent(intent(1))
    await store.append_outcome(audit_id, outcome())
    await store.append_refusal(refusal())
    for kind in ("intent", "outcome", "refusal"):
        assert metrics.registry.get_sample_value("xroad_vtj_audit_appends_total", {"kind": kind}) == 1


async def test_a_closed_store_refuses_appends_and_pings(store: AuditStore) -> None:
    await store.ping()
    await store.close()
    with pytest.raises(AuditUnavailable):
        await store.append_intent(intent(1))
    with pytest.raises(AuditUnavailable):
        await store.ping()


async def test_concurrent_appends_share_durable_commits(store: AuditStore) -> None:
    before = store.commits
    await asyncio.gather(*(store.append_intent(intent(i)) for i in range(200)))
    assert store.commits - before < 200
    assert len(await store.search(limit=1000)) == 200


async def test_each_sweep_is_recorded_and_the_next_one_still_finds_what_was_left_open(
    store: AuditStore,
) -> None:
    await store.append_intent(intent(1))  # this instance's: marked at once
    assert await store.mark_unfinished_unknown(older_than=datetime.now(UTC) - timedelta(minutes=5)) == 1
    await store.append_intent(intent(2))
    assert await store.mark_unfinished_unknown(older_than=datetime.now(UTC) + timedelta(seconds=1)) == 1
    events = [json.loads(body) for _, _, body, _ in await store._rows_between(1, 100)]
    sweeps = [e for e in events if e.get("event") == "unfinished_sweep"]
    assert [s["marked"] for s in sweeps] == [1, 1]
    assert (await store.verify()).ok


async def test_a_write_call_reads_writes_and_appends_in_one_transaction_on_every_backend(
    store: AuditStore,
) -> None:
    await store.append_intent(intent(1))
    m, records = store.MARK, store.RECORDS

    async def call(tx: WriteTx) -> tuple[int, list[int]]:
        [(kinds,)] = await tx.fetch(f"SELECT count(*) FROM {records} WHERE kind = {m}", ["intent"])  # noqa: S608
        await tx.execute(
            f"INSERT INTO {store.CHECKPOINTS} (seq, created_at, document) VALUES ({m}, {m}, {m})",  # noqa: S608
            (1, "2026-01-01T00:00:00.000000Z", "<not-a-checkpoint/>"),
        )
        seqs = await tx.append([codec.event_body("test", "t", {}, store.keyring)])
        return int(kinds), seqs

    assert await store.write_call(call) == (1, [2])
    assert [seq for seq, _ in await store._checkpoint_documents()] == [1]


async def test_a_failing_write_call_leaves_nothing_behind(store: AuditStore) -> None:
    async def call(tx: WriteTx) -> None:
        await tx.append([codec.event_body("test", "t", {}, store.keyring)])
        raise AuditUnavailable("refused by the call")

    with pytest.raises(AuditUnavailable):
        await store.write_call(call)
    assert await store._head() == (0, GENESIS)
    assert await store.append_intent(intent(1))
    assert (await store.verify()).ok


async def test_a_sweep_leaves_alone_the_queries_this_instance_admitted_after_the_bound_seq(
    store: AuditStore,
) -> None:
    """The service sweeps its own instance's dead queries in the background, bounded by the head at open: a
    query admitted while the sweep runs, under the same instance name, is in flight, not dead."""
    await store.append_intent(intent(1))  # the dead process's (same instance name)
    through = (await store._head())[0]
    await store.append_intent(intent(2))  # admitted by this process before the sweep finished
    assert await store.mark_unfinished_unknown(through=through) == 1
    outcomes = {r["xroad_message_id"]: r["outcome"] for r in await store.search()}
    assert outcomes == {"msg-1": "outcome_unknown", "msg-2": None}
    assert store.sweep_done.is_set()


async def test_a_sweep_does_not_mark_an_intent_whose_outcome_came_while_it_read(store: AuditStore) -> None:
    audit_id = await store.append_intent(intent(1))
    fetch = store._fetch
    late = asyncio.Event()

    async def read_then_outcome(query: str, params: Any, *, long: bool = False) -> Any:
        rows = await fetch(query, params, long=long)
        if long and not late.is_set():  # the read found the intent open; its outcome lands before the write
            late.set()
            await store.append_outcome(audit_id, outcome("found"))
        return rows

    store._fetch = read_then_outcome  # type: ignore[method-assign]
    assert await store.mark_unfinished_unknown() == 0
    assert late.is_set()
    [record] = await store.search()
    assert record["outcome"] == "found"
    assert (await store.verify()).ok


async def test_the_next_sweep_reads_from_the_head_the_previous_one_covered(store: AuditStore) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    await store.append_intent(intent(1, requested_at=old))
    covered = (await store._head())[0]  # the head the sweep reads: before its own records
    assert await store.mark_unfinished_unknown(older_than=datetime.now(UTC)) == 1
    events = [json.loads(b) for _, _, b, _ in await store.raw_tail(1)]
    assert (events[0]["event"], events[0]["covered"]) == ("unfinished_sweep", covered)
    # written after that sweep with a requested_at before its bound (another replica's clock): still found
    await store.append_intent(intent(2, requested_at=old))
    top = (await store._head())[0]
    reads: list[list[Any]] = []
    fetch = store._fetch

    async def recorded(query: str, params: Any, *, long: bool = False) -> Any:
        if long:
            reads.append(list(params))
        return await fetch(query, params, long=long)

    store._fetch = recorded  # type: ignore[method-assign]
    assert await store.mark_unfinished_unknown(older_than=datetime.now(UTC)) == 1
    # by time only up to the covered head (from the bound on), by seq after it
    assert [r[:2] for r in reads] == [[events[0]["bound"], covered], [covered, top]]


def test_a_sweep_event_without_covered_falls_back_to_the_time_margin() -> None:
    bound = datetime(2026, 5, 1, 12, tzinfo=UTC)
    legacy = codec.sweep_event_body("old", bound, 0)
    assert codec.sweep_start([legacy]) == codec.SweepStart(iso(bound - codec.SWEEP_MARGIN), None)
    new = codec.sweep_event_body("new", bound, 0, covered=41)
    assert codec.sweep_start([new, legacy]) == codec.SweepStart(iso(bound), 41)
    unbounded = codec.sweep_event_body("new", None, 0, covered=50)  # a start-up sweep says nothing of time
    assert codec.sweep_start([unbounded]) == codec.SweepStart("", None)


def test_a_sweep_event_written_without_the_data_key_does_not_decide_where_sweeps_start() -> None:
    import os

    from xroad_vtj.audit.keys import DataKey, Keyring
    from xroad_vtj.audit.mac import MacChecker

    keyring = Keyring(DataKey.from_bytes(os.urandom(32)))
    checker = MacChecker(keyring)
    bound = datetime(2026, 5, 1, 12, tzinfo=UTC)
    genuine = codec.sweep_event_body("t", bound, 0, keyring, covered=41)
    # a forger's event: newer, a far-future bound and a huge covered head, no MAC (or another record's)
    forged = codec.sweep_event_body("t", bound + timedelta(days=3650), 0, covered=10**12)
    assert codec.sweep_start([forged, genuine], checker) == codec.SweepStart(iso(bound), 41)
    copied = forged[:-1] + ',"mac":"' + json.loads(genuine)["mac"] + '"}'
    assert codec.sweep_start([copied, genuine], checker) == codec.SweepStart(iso(bound), 41)
    # a log from before record MACs: its events have none, and still count
    legacy = codec.sweep_event_body("old", bound, 0, covered=7)
    assert codec.sweep_start([legacy], checker) == codec.SweepStart(iso(bound), 7)
    broken = genuine.replace(json.loads(genuine)["bound"], "not-a-time")
    assert codec.sweep_start([broken, legacy]) == codec.SweepStart(iso(bound), 7)


async def test_a_live_query_of_this_instance_is_not_swept_even_if_the_clock_stepped_back(
    store: AuditStore,
) -> None:
    now = datetime.now(UTC)
    dead = await store.append_intent(intent(1, requested_at=now - timedelta(hours=2)))
    opened = (await store._head())[
        0
    ]  # what this process found at open: everything up to here is a dead one's
    # admitted after open, but stamped before the bound: the wall clock was set back meanwhile
    live = await store.append_intent(intent(2, requested_at=now - timedelta(hours=1)))
    assert await store.mark_unfinished_unknown(now, through=opened) == 1
    outcomes = {r["audit_id"]: r["outcome"] for r in await store.search()}
    assert outcomes[dead] == "outcome_unknown"
    assert outcomes[live] is None
