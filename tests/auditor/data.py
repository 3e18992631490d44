"""A small but varied audit log for the view's tests: thirty days of queries with every kind of outcome."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from tests.audit.helpers import HETUS, intent, outcome, refusal
from xroad_vtj.audit.chain import canonical_body, record_hash
from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.audit.store import AuditStore, open_store

# The person the tests search for (individual number 952: a test person) and how often they were queried.
SUBJECT = HETUS[0]  # 010280-952L
OTHER = HETUS[1]  # 260991-999R
SUBJECT_QUERIES = 4


def write_config(directory: Path) -> Path:
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump({"audit": {"backend": "sqlite", "sqlite_path": "audit.sqlite3"}}))
    return path


def config_for(path: Path) -> AuditConfig:
    raw = yaml.safe_load(path.read_text())
    return parse_audit_config(raw["audit"], path.parent)


async def populate(store: AuditStore, now: datetime | None = None) -> list[str]:
    """Queries over the last 30 days; returns the audit ids of the queries about :data:`SUBJECT`."""
    now = now or datetime.now(UTC)
    about_subject: list[str] = []
    n = 0
    for day in range(30):
        for k in range(day % 4 + 1):
            n += 1
            at = now - timedelta(days=day, hours=k + 1)
            subject = HETUS[1 + (day + k) % 3]  # never SUBJECT: its queries are the ones below
            caller = ("caseapp", "taxapp", "socialapp")[n % 3]
            user = f"officer-{n % 5}"
            audit_id = await store.append_intent(
                dataclasses.replace(
                    intent(n, subject=subject, end_user=user, caller=caller, requested_at=at),
                    purpose=f"SOS-2026-{n:03d}",
                )
            )
            name = ("found", "found", "not_found", "found", "deceased", "upstream_fault")[n % 6]
            extra = {}
            if name == "upstream_fault":
                extra = {
                    "http_status": 502,
                    "error_code": "upstream_fault",
                    "return_code": None,
                    "fault_code": "Server.ServerProxy.ServiceFailed",
                    "fault_detail": "4f9a2c1e-7b3d-4e8a-9c2f-1a2b3c4d5e6f",
                    "fault_family": "server_proxy",
                    "data_categories": (),
                }
            await store.append_outcome(
                audit_id, outcome(name, completed_at=at + timedelta(milliseconds=180), **extra)
            )
    # the test subject: exactly SUBJECT_QUERIES queries within the last week, the newest today
    for i in range(SUBJECT_QUERIES):
        n += 1
        at = now - timedelta(days=i * 2, minutes=30)
        audit_id = await store.append_intent(
            dataclasses.replace(
                intent(
                    1000 + i, subject=SUBJECT, end_user="maija.virtanen", caller="caseapp", requested_at=at
                ),
                purpose=f"SOS-2026-9{i:02d}",
                subject_kind="hetu",
            )
        )
        await store.append_outcome(audit_id, outcome("found", completed_at=at + timedelta(milliseconds=240)))
        about_subject.append(audit_id)
    # refusals: a few invalid inputs and quota hits
    for i in range(3):
        await store.append_refusal(dataclasses.replace(refusal(), requested_at=now - timedelta(days=i)))
    for i in range(2):
        await store.append_refusal(
            dataclasses.replace(
                refusal(subject=OTHER, reason="quota_exceeded"), requested_at=now - timedelta(hours=i)
            )
        )
    await store.checkpoint()
    return about_subject


async def populated_store(directory: Path) -> tuple[Path, list[str]]:
    """A config file and an audit store beside it, filled by :func:`populate` and closed again."""
    path = write_config(directory)
    store = open_store(config_for(path), instance="test-service")
    await store.open(checkpoints=False)
    try:
        ids = await populate(store)
    finally:
        await store.close()
    return path, ids


FORGED_ID = "00000000-0000-4000-8000-0000000000f0"


def append_forged_intent(path: Path, caller: str = "forger") -> str:
    """What someone with write access to the SQLite file but not the data key can append: a copy of the newest
    intent under another audit id and caller, its record MAC copied along (it no longer matches), chained
    correctly onto the head. Returns its audit id."""
    with sqlite3.connect(path) as conn:
        (model,) = conn.execute(
            "SELECT body FROM audit_record WHERE kind = 'intent' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        top, prev, period = conn.execute(
            "SELECT seq, hash, period FROM audit_record ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        fields = json.loads(model)
        fields.update(audit_id=FORGED_ID, caller=caller)
        body = canonical_body(fields)
        conn.execute(
            "INSERT INTO audit_record (seq, period, body, hash) VALUES (?, ?, ?, ?)",
            (top + 1, period, body, record_hash(prev, top + 1, period, body.encode())),
        )
    return FORGED_ID
