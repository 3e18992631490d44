"""Quotas are checked against in-memory counts: the store is read once per end user, never per query, so a
query's cost does not grow with the log (issue 12 §3)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from xroad_vtj.audit.config import parse_audit_config
from xroad_vtj.audit.records import Intent
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.config import CallerConfig, Quotas
from xroad_vtj.errors import AuditUnavailable, QuotaExceeded
from xroad_vtj.policy import Policy
from xroad_vtj.query import PersonQuery

HETUS = ["010280-952L", "260991-999R", "020365-999P", "311211A9527", "010594Y9032"]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AuditStore]:
    cfg = parse_audit_config({"backend": "sqlite", "sqlite_path": str(tmp_path / "a.sqlite3")}, tmp_path)
    s = open_store(cfg, instance="t")
    await s.open(checkpoints=False)
    yield s
    await s.close()


class Counting:
    """Counts the store reads a quota check makes."""

    def __init__(self, store: AuditStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.loads = self.syncs = 0
        load, sync = store._load_end_user, store.sync_usage

        async def counted_load(*args: Any) -> Any:
            self.loads += 1
            return await load(*args)

        async def counted_sync() -> None:
            self.syncs += 1
            await sync()

        monkeypatch.setattr(store, "_load_end_user", counted_load)
        monkeypatch.setattr(store, "sync_usage", counted_sync)


def caller(**quotas: int | None) -> CallerConfig:
    off: dict[str, int | None] = dict.fromkeys(
        ("per_end_user_per_minute", "per_end_user_per_day", "per_caller_per_minute"), None
    )
    off["distinct_subjects_per_end_user_per_day"] = None
    return CallerConfig(name="app", products=("PERUSSANOMA 1",), quotas=Quotas(**{**off, **quotas}))


async def admit(policy: Policy, who: CallerConfig, end_user: str, hetu: str = HETUS[0]) -> None:
    """What QueryService does: check within an admission, then write the intent."""
    query = PersonQuery.person(hetu=hetu, product="PERUSSANOMA 1", end_user=end_user, purpose="case")
    async with policy.admission(who, end_user) as admission:
        await policy.authorize_query(who, query, admission)
        from datetime import UTC, datetime

        await policy.store.append_intent(
            Intent(
                caller=who.name,
                end_user=end_user,
                purpose="case",
                product="PERUSSANOMA 1",
                client="c",
                service="s",
                xroad_message_id="m",
                subject=hetu,
                request_sha512="x",
                requested_at=datetime.now(UTC),
            )
        )


async def test_the_store_is_read_once_per_end_user_not_once_per_query(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = Policy((), store)
    who = caller(
        per_end_user_per_minute=1000, per_end_user_per_day=1000, distinct_subjects_per_end_user_per_day=100
    )
    counting = Counting(store, monkeypatch)
    for i in range(50):
        await admit(policy, who, "officer.a", HETUS[i % len(HETUS)])
    assert counting.loads == 1
    assert counting.syncs == 0  # the writer's own commits keep the ledger fresh


async def test_spellings_of_one_end_user_share_one_quota(store: AuditStore) -> None:
    policy = Policy((), store)
    who = caller(per_end_user_per_minute=3)
    for spelling in ("maija", "Maija", "MAIJA"):
        await admit(policy, who, spelling)
    with pytest.raises(QuotaExceeded):
        await admit(policy, who, "\uff4d\uff41\uff49\uff4a\uff41")  # fullwidth: NFKC makes it maija


async def test_a_query_whose_intent_could_not_be_written_gives_its_place_back(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = Policy((), store)
    who = caller(per_end_user_per_minute=2, distinct_subjects_per_end_user_per_day=1)

    async def broken(*args: Any, **kwargs: Any) -> str:
        raise AuditUnavailable("down")

    with monkeypatch.context() as m:
        m.setattr(store, "append_intent", broken)
        for hetu in HETUS[:3]:
            with pytest.raises(AuditUnavailable):
                await admit(policy, who, "officer.b", hetu)
    await admit(policy, who, "officer.b", HETUS[3])
    await admit(policy, who, "officer.b", HETUS[3])
    with pytest.raises(QuotaExceeded, match="per_end_user_per_minute"):
        await admit(policy, who, "officer.b", HETUS[3])


async def test_near_a_limit_the_check_syncs_with_the_log_first(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = Policy((), store)
    who = caller(per_end_user_per_minute=5)
    counting = Counting(store, monkeypatch)
    for _ in range(4):
        await admit(policy, who, "officer.c")
    assert counting.syncs == 0
    await admit(policy, who, "officer.c")  # 4 counted of 5: near the limit
    assert counting.syncs == 1
    with pytest.raises(QuotaExceeded):
        await admit(policy, who, "officer.c")


async def _admit_all(policy: Policy, who: CallerConfig, end_user: str, n: int) -> list[BaseException | None]:
    results = await asyncio.gather(
        *(admit(policy, who, end_user, HETUS[i % len(HETUS)]) for i in range(n)), return_exceptions=True
    )
    return [r if isinstance(r, BaseException) else None for r in results]


async def test_simultaneous_queries_of_one_end_user_are_counted_exactly_and_share_commits(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = Policy((), store)
    who = caller(per_end_user_per_minute=10)
    counting = Counting(store, monkeypatch)
    before = store.commits
    results = await _admit_all(policy, who, "officer.d", 25)
    assert results.count(None) == 10  # exactly the limit passed, although all 25 were checked at once
    assert all(isinstance(r, QuotaExceeded) for r in results if r is not None)
    assert counting.loads == 1  # the first queries shared one read of the end user's day
    # not one commit per intent: the admitted queries' intents were written together
    assert store.commits - before < 10


async def test_simultaneous_first_queries_share_one_load_and_keep_every_reservation(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = Policy((), store)
    who = caller(per_end_user_per_day=1000)
    counting = Counting(store, monkeypatch)
    assert await _admit_all(policy, who, "officer.e", 12) == [None] * 12
    assert counting.loads == 1
    state = store.usage.end_users[("app", "officer.e")]
    assert len(state.times) == 12  # a second load would have replaced the state and lost reservations


async def test_a_failed_query_gives_back_only_what_no_live_query_of_the_same_subject_needs(
    store: AuditStore,
) -> None:
    """Q1 and Q2 ask about one new subject at once; Q1's intent fails after Q2 was counted: the subject stays
    counted for Q2 (it used to be dropped, so a further subject passed the distinct-subject limit)."""
    from xroad_vtj.errors import AuditUnavailable as Unavailable

    policy = Policy((), store)
    who = caller(distinct_subjects_per_end_user_per_day=2)

    def query(hetu: str) -> PersonQuery:
        return PersonQuery.person(hetu=hetu, product="PERUSSANOMA 1", end_user="u", purpose="case")

    q1_checked, q2_checked = asyncio.Event(), asyncio.Event()

    async def q1() -> None:
        with pytest.raises(Unavailable):
            async with policy.admission(who, "u") as admission:
                await policy.authorize_query(who, query(HETUS[0]), admission)
                q1_checked.set()
                await q2_checked.wait()
                raise Unavailable("the intent could not be written")

    async def q2() -> None:
        await q1_checked.wait()
        await admit(policy, who, "u", HETUS[0])  # counted and its intent written, while q1 is still open
        q2_checked.set()

    await asyncio.gather(q1(), q2())
    await admit(policy, who, "u", HETUS[1])  # the second distinct subject
    with pytest.raises(QuotaExceeded, match="distinct_subjects"):
        await admit(policy, who, "u", HETUS[2])
