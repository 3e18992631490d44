"""SIGKILL in the middle of 50 concurrent queries, then a restart: the audit trail is whole.

Every message id the security server received has exactly one intent; after the restart every intent has
exactly one outcome (``outcome_unknown`` for those the dead process left open); ``audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import TOKEN, Sim, base_config
from tests.reliability.backends import (
    AuditBackend,
    admin_dsn,
    migrate_or_skip,
    own_database,
    pg_section,
    sqlite_backend,
)
from tests.reliability.conftest import wait_until
from tests.reliability.processes import cli, start_service_process, write_config

QUERIES = 50
KILL_AFTER_RECEIVED = 30
END_USER = "crash-test"


# (backend, instance_id): None is the default name, host name + pid, which is new after the restart; the
# stable-name path does not depend on the backend, so SQLite alone covers it.
CASES = [
    pytest.param(("sqlite", None), id="sqlite-default-instance-name"),
    pytest.param(("sqlite", "replica-1"), id="sqlite-stable-instance-name"),
    pytest.param(("postgresql", None), id="postgresql-default-instance-name", marks=pytest.mark.postgres),
]


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[AuditBackend, str | None]]:
    name, instance_id = request.param
    if name == "sqlite":
        yield sqlite_backend(tmp_path), instance_id
        return
    with own_database(admin_dsn()) as dsn:
        yield AuditBackend("postgresql", pg_section(dsn, tmp_path / "keys"), dsn), instance_id


async def one_query(session: aiohttp.ClientSession, base: str, i: int) -> tuple[int, dict[str, Any]] | None:
    """A caller; ``None`` when the connection died with the service."""
    await asyncio.sleep(i * 0.02)  # staggered, so the kill finds queries in every stage
    payload = {"hetu": "010280-952L", "end_user": END_USER, "purpose": f"CASE-{i}"}
    try:
        async with session.post(
            f"{base}/v1/person-queries", json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r:
            return r.status, await r.json(content_type=None)
    except aiohttp.ClientError:
        return None


@pytest.mark.slow
async def test_sigkill_under_load_leaves_every_sent_query_audited_and_the_chain_valid(
    simulator: Sim, tmp_path: Path, case: tuple[AuditBackend, str | None]
) -> None:
    backend, instance_id = case
    raw = base_config(
        tmp_path,
        simulator.url,
        audit=backend.section,
        # Short, so that the restarted process may soon be sure that no query of the dead one is still out.
        xroad={"timeout_seconds": 1.0},
        server={"shutdown_grace_seconds": 1.0},
        instance_id=instance_id,
    )
    config = write_config(raw, tmp_path / "config.yaml")
    if backend.name == "postgresql":
        code, _, err = await cli("audit", "migrate", "--config", str(config))
        migrate_or_skip(code, err)
    simulator.knobs(latency_seconds=0.2)
    service = await start_service_process(config)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        callers = [asyncio.create_task(one_query(session, service.base, i)) for i in range(QUERIES)]
        await wait_until(lambda: len(simulator.received) >= KILL_AFTER_RECEIVED)
        service.signal(signal.SIGKILL)
        answers = await asyncio.gather(*callers)
    assert await service.wait(30) == -signal.SIGKILL
    received = list(simulator.received)

    # Under a stable name the restart marks the dead process's queries at once; under a new name once the
    # deadline and grace have passed since the restart.
    restarted = await start_service_process(config)
    await wait_until(lambda: bool(restarted.logged("unfinished_queries_marked_unknown")))
    restarted.signal(signal.SIGTERM)
    assert await restarted.wait(30) == 0
    (marked,) = restarted.logged("unfinished_queries_marked_unknown")

    code, out, err = await cli("audit", "verify", "--config", str(config))
    assert code == 0, err
    code, out, err = await cli("audit", "search", "--config", str(config), "--end-user", END_USER)
    assert code == 0, err
    records = {r["xroad_message_id"]: r for r in map(json.loads, out.splitlines())}

    # The security server saw each query once, and each one it saw has its audit record.
    assert len(set(received)) == len(received)
    assert set(received) <= set(records)
    # Every query has an outcome now; an answered caller's record says what it was told.
    answered = {body["xroad_message_id"]: body for status, body in filter(None, answers) if status == 200}
    assert 0 < len(answered) < QUERIES
    for message_id, record in records.items():
        if message_id in answered:
            assert (record["outcome"], record["audit_id"]) == ("found", answered[message_id]["audit_id"])
        else:
            assert record["outcome"] in ("found", "outcome_unknown")
    unknown = [r for r in records.values() if r["outcome"] == "outcome_unknown"]
    assert unknown  # the kill did catch queries in flight
    assert marked["count"] == len(unknown)
    assert all(r["error_code"] == "outcome_unknown" for r in unknown)

    # Raw: one intent per query, exactly one outcome per intent, every body whole JSON, seq without gaps.
    stored = backend.raw_records()
    assert [r.seq for r in stored] == list(range(stored[0].seq, stored[0].seq + len(stored)))
    intents = Counter(r.audit_id for r in stored if r.kind == "intent")
    outcomes = Counter(r.audit_id for r in stored if r.kind == "outcome")
    assert set(intents.values()) == {1}
    assert outcomes == intents
    assert len({r.xroad_message_id for r in stored if r.kind == "intent"}) == len(intents)
