"""Products and refusals (issue 11 §6): the permit ignores ASCII letter case only, and a caller cannot write
more than 60 refusal records a minute; beyond that its refusals are counted into one record per reason."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import TOKEN, Running, Sim
from tests.policy.helpers import metric
from xroad_vtj.audit.records import Refusal
from xroad_vtj.config import CallerConfig
from xroad_vtj.policy import permits_product
from xroad_vtj.refusals import AGGREGATE_EVENT, RefusalLog

# --- the permit -------------------------------------------------------------------------------------------------

P1 = CallerConfig(name="p1", products=("PERUSSANOMA 1",))


@pytest.mark.parametrize("product", ["PERUSSANOMA 1", "perussanoma 1", "Perussanoma 1", "pErUsSaNoMa 1"])
def test_the_permit_ignores_ascii_letter_case(product: str) -> None:
    assert permits_product(P1, product)


@pytest.mark.parametrize(
    "product",
    [
        "PERU\u00dfANOMA 1",  # ß casefolds to ss
        "PERU\u017fSANOMA 1",  # long s casefolds to s
        "\uff30ERUSSANOMA 1",  # full-width P
        "PERUSSANOMA 1 ",
        "PERUSSANOMA\u00a01",
    ],
)
def test_no_other_case_mapping_or_look_alike_matches_the_permit(product: str) -> None:
    assert not permits_product(P1, product)


async def test_perussanoma_with_sharp_s_is_refused_end_to_end(running: Running, simulator: Sim) -> None:
    raw = {
        "hetu": "010280-952L",
        "end_user": "officer.1",
        "purpose": "CASE-1",
        "product": "PERU\u00dfANOMA 1",
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with running.session.post(f"{running.base}/v1/person-queries", json=raw, headers=headers) as r:
        status, body = r.status, await r.json(content_type=None)
    assert (status, body["code"]) == (403, "product_not_allowed")
    assert simulator.received == []


# --- bounded refusal records ------------------------------------------------------------------------------------


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def events(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT body FROM audit_record WHERE kind = 'event' ORDER BY seq").fetchall()
    return [json.loads(r[0]) for r in rows if json.loads(r[0]).get("event") == AGGREGATE_EVENT]


def refusal(caller: str, reason: str = "invalid_hetu") -> Refusal:
    return Refusal(caller, "officer.1", "CASE-1", None, "010280-952X", reason, datetime.now(UTC))


async def refusal_records(running: Running, caller: str) -> int:
    rows = await running.service.store.search(limit=10000)
    return sum(1 for r in rows if r["kind"] == "refusal" and r["caller"] == caller)


async def test_past_sixty_a_minute_refusals_are_counted_per_caller_and_reason(running: Running) -> None:
    clock = Clock(1_800_000_000.0)  # the start of a minute
    log = RefusalLog(running.service.store, clock=clock)
    for i in range(75):
        await log.record(refusal("a", "invalid_hetu" if i % 2 else "invalid_request"))
    for _ in range(5):
        await log.record(refusal("b"))  # another caller has a budget of its own
    assert await refusal_records(running, "a") == 60
    assert await refusal_records(running, "b") == 5
    db = running.config.audit.sqlite_path
    assert db is not None
    assert events(db) == []  # the minute is still open
    clock.now += 60  # the minute closes; the next refusal writes its aggregates first
    await log.record(refusal("a"))
    written = sorted(events(db), key=lambda e: e["reason"])
    assert [(e["caller"], e["reason"], e["count"]) for e in written] == [
        ("a", "invalid_hetu", 7),
        ("a", "invalid_request", 8),
    ]
    assert written[0]["from"].startswith("2027-01-15T08:00:00") and written[0]["to"].startswith(
        "2027-01-15T08:01"
    )
    assert await refusal_records(running, "a") == 61
    await log.close()


async def test_open_aggregates_are_written_at_shutdown(running: Running) -> None:
    log = RefusalLog(running.service.store, per_minute=2, clock=Clock(1_800_000_000.0))
    for _ in range(5):
        await log.record(refusal("a"))
    await log.close()
    db = running.config.audit.sqlite_path
    assert db is not None
    assert [(e["caller"], e["count"]) for e in events(db)] == [("a", 3)]


async def test_an_aggregate_is_written_when_the_minute_closes_without_another_refusal(
    running: Running,
) -> None:
    clock = Clock(1_800_000_059.7)  # 0.3 s before the minute closes
    log = RefusalLog(running.service.store, per_minute=1, clock=clock)
    await log.record(refusal("a"))
    await log.record(refusal("a"))
    clock.now += 1.0
    db = running.config.audit.sqlite_path
    assert db is not None
    for _ in range(40):
        if events(db):
            break
        await asyncio.sleep(0.05)
    assert [(e["caller"], e["count"]) for e in events(db)] == [("a", 1)]
    await log.close()


async def test_a_flood_of_refusals_writes_sixty_records_and_the_metric_counts_every_one(
    running: Running,
) -> None:
    body = {"hetu": "010280-952X", "end_user": "flood.user", "purpose": "CASE-1"}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    before = await metric(running, "xroad_vtj_policy_refusals_total", reason="invalid_hetu")
    minute = int(datetime.now(UTC).timestamp() // 60)

    async def one() -> int:
        async with running.session.post(f"{running.base}/v1/person-queries", json=body, headers=headers) as r:
            return r.status

    statuses = await asyncio.gather(*[one() for _ in range(90)])
    assert statuses == [400] * 90
    assert await metric(running, "xroad_vtj_policy_refusals_total", reason="invalid_hetu") == before + 90
    records = await refusal_records(running, "caseapp")
    if int(datetime.now(UTC).timestamp() // 60) == minute:  # the flood did not straddle a minute
        assert records == 60
    else:
        assert 60 <= records <= 90
    await running.service.stop()
    db = running.config.audit.sqlite_path
    assert db is not None
    assert records + sum(e["count"] for e in events(db)) == 90


class CountingStore:
    """Stands in for the audit store's two append calls, to check the counting over many random floods."""

    def __init__(self) -> None:
        self.refusals: list[Refusal] = []
        self.events: list[dict[str, Any]] = []

    async def append_refusal(self, refusal: Refusal) -> str:
        self.refusals.append(refusal)
        return "id"

    async def append_event(self, event: str, details: dict[str, Any]) -> int:
        assert event == AGGREGATE_EVENT
        self.events.append(dict(details))
        return len(self.events)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", None]),
            st.sampled_from(["invalid_hetu", "invalid_request", "forbidden"]),
            st.floats(min_value=0, max_value=30),  # seconds after the previous refusal
        ),
        max_size=400,
    ),
    st.integers(min_value=1, max_value=60),
)
def test_every_refusal_is_either_its_own_record_or_counted_once(
    floods: list[tuple[str | None, str, float]], budget: int
) -> None:
    store = CountingStore()
    clock = Clock(1_800_000_000.0)
    log = RefusalLog(store, per_minute=budget, clock=clock)  # type: ignore[arg-type]
    own: dict[tuple[str | None, int], int] = {}
    asked: dict[tuple[str | None, int], int] = {}

    async def run() -> None:
        for caller, reason, gap in floods:
            clock.now += gap
            minute = int(clock.now // 60)
            before = len(store.refusals)
            await log.record(refusal(caller, reason))  # type: ignore[arg-type]
            asked[(caller, minute)] = asked.get((caller, minute), 0) + 1
            own[(caller, minute)] = own.get((caller, minute), 0) + len(store.refusals) - before
        await log.close()

    asyncio.run(run())
    # Every refusal is counted exactly once: as its own record or inside one aggregate.
    assert len(store.refusals) + sum(e["count"] for e in store.events) == len(floods)
    # Each caller gets its own records up to the budget in every minute, and no more.
    assert all(own[key] == min(asked[key], budget) for key in asked)
    # One aggregate per (caller, reason, minute), never an empty one.
    keys = [(e["caller"], e["reason"], e["from"]) for e in store.events]
    assert len(keys) == len(set(keys))
    assert all(e["count"] > 0 for e in store.events)
