"""Several OS processes appending at once, and a process killed in the middle of a batch."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import append_worker
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.store import open_store

REPO = Path(__file__).resolve().parents[2]


async def _verified_ids(config: AuditConfig) -> tuple[list[dict[str, Any]], int]:
    store = open_store(config, instance="checker")
    await store.open(checkpoints=False)
    try:
        report = await store.verify()
        assert report.ok, report.problem
        return await store.search(limit=100_000), report.records
    finally:
        await store.close()


@pytest.mark.slow
async def test_appends_from_several_processes_keep_one_valid_chain(
    raw_config: dict[str, Any], config: AuditConfig, tmp_path: Path
) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=append_worker, args=(raw_config, str(tmp_path), f"proc-{n}", 40)) for n in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        await asyncio.to_thread(p.join, 120)
        assert p.exitcode == 0
    rows, records = await _verified_ids(config)
    assert records == 160
    assert [r["seq"] for r in rows] == list(range(1, 161))
    assert {r["end_user"] for r in rows} == {f"proc-{n}" for n in range(4)}


@pytest.mark.slow
async def test_a_process_killed_mid_batch_leaves_no_gap_and_loses_no_acknowledged_record(
    raw_config: dict[str, Any], config: AuditConfig, tmp_path: Path
) -> None:
    proc = subprocess.Popen(  # noqa: ASYNC220  # a real OS process to SIGKILL
        [sys.executable, "-m", "tests.audit.helpers", json.dumps(raw_config), str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    acknowledged: list[str] = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        line = await asyncio.to_thread(proc.stdout.readline)
        if not line:
            break
        acknowledged.append(line.decode().strip())
    proc.send_signal(signal.SIGKILL)
    await asyncio.to_thread(proc.wait)
    assert len(acknowledged) >= 200
    rows, records = await _verified_ids(config)
    assert [r["seq"] for r in rows] == list(range(1, records + 1))
    assert set(acknowledged) <= {r["audit_id"] for r in rows}
