"""Attacks by someone who can write to the database but holds neither the audit data key nor a write-once copy
of the checkpoints: forged appends, replays, periods moved, checkpoints deleted (issue 11 §3 and §8)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.audit.helpers import intent, outcome, refusal
from tests.audit.tamper import Tamper, rechain
from tests.audit.test_tamper import tamperer
from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import canonical_body, period_of, record_hash, utcnow
from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.audit.keys import new_key_text
from xroad_vtj.audit.store import AuditStore, load_keyring, open_store
from xroad_vtj.audit.verify import verify_store
from xroad_vtj.errors import AuditUnavailable

LATER = timedelta(minutes=11)  # more than two default checkpoint intervals (300 s)


@pytest.fixture
async def ten(
    config: AuditConfig, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[AuditStore, Tamper]]:
    """Ten authenticated records (a refusal at 5) with signed checkpoints at records 3 and 10."""
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    for i in range(1, 11):
        if i == 5:
            await store.append_refusal(refusal(subject=None))
        else:
            await store.append_intent(intent(i))
        if i in (3, 10):
            await store.checkpoint()
    yield store, tamperer(config, request)
    await store.close()


def append_as_application(config: AuditConfig, request: pytest.FixtureRequest, body: str) -> int:
    """What the application's database credentials allow: read the head, insert the next record with a correct
    chain hash (PostgreSQL: as the application role; SQLite: anyone who can write the file)."""
    if config.backend == "postgresql":
        with psycopg.connect(request.getfixturevalue("pg_db").app_dsn, autocommit=True) as conn:
            seq, prev, period = conn.execute(
                "SELECT seq, hash, period FROM xroad_vtj_audit.record ORDER BY seq DESC LIMIT 1"
            ).fetchone()  # type: ignore[misc]
            conn.execute(
                "INSERT INTO xroad_vtj_audit.record (seq, period, body, hash) VALUES (%s, %s, %s, %s)",
                (seq + 1, period, body, record_hash(bytes(prev), seq + 1, period, body.encode())),
            )
            return int(seq) + 1
    assert config.sqlite_path is not None
    with sqlite3.connect(config.sqlite_path) as conn:
        seq, prev, period = conn.execute(
            "SELECT seq, hash, period FROM audit_record ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        conn.execute(
            "INSERT INTO audit_record (seq, period, body, hash) VALUES (?, ?, ?, ?)",
            (seq + 1, period, body, record_hash(prev, seq + 1, period, body.encode())),
        )
    return int(seq) + 1


def forged_refusal(model: str, mac: str | None) -> str:
    """A refusal an attacker writes: the format is public, the key is not."""
    fields = json.loads(model)
    fields.pop("mac")
    fields.update(audit_id="00000000-0000-4000-8000-000000000000", reason="forged", caller="forger")
    if mac is not None:
        fields["mac"] = mac
    return canonical_body(fields)


@pytest.mark.parametrize(
    ("mac", "named"),
    [
        (
            None,
            "record 11 has no record MAC, but record 1 before it has one (appended without the audit data key)",
        ),
        ("copied", "record 11 was altered (its content does not match its record MAC)"),
        ("k0123456789abcdef:" + "0" * 32, "record 11: its record MAC names audit data key k0123456789abcdef"),
    ],
    ids=["without_mac", "with_a_copied_mac", "with_a_made_up_key"],
)
async def test_a_forged_append_with_the_database_credentials_does_not_verify(
    ten: tuple[AuditStore, Tamper],
    config: AuditConfig,
    request: pytest.FixtureRequest,
    mac: str | None,
    named: str,
) -> None:
    store, t = ten
    model = t.rows()[4][2]  # the refusal
    shown = {None: "absent", "copied": "invalid"}.get(mac, "unknown_key")
    if mac == "copied":
        mac = json.loads(model)["mac"]
    seq = append_as_application(config, request, forged_refusal(model, mac))
    assert seq == 11
    found = {r["caller"]: r for r in await store.search()}
    assert found["forger"]["reason"] == "forged"  # it is there, but a search shows what it is
    assert found["forger"]["record_mac"] == shown
    assert found["caseapp"]["record_mac"] == "valid"
    await store.checkpoint()  # ... and even signed over by the service's next checkpoint
    report = await store.verify()
    assert not report.ok and report.bad_seq == 11
    assert report.problem is not None and report.problem.startswith(named), report.problem


async def test_an_authentic_record_appended_again_does_not_verify(
    ten: tuple[AuditStore, Tamper], config: AuditConfig, request: pytest.FixtureRequest
) -> None:
    store, t = ten
    append_as_application(config, request, t.rows()[4][2])
    report = await store.verify()
    assert report.problem == "record 11 repeats record 5 (an authentic record appended again)"


async def test_an_old_authentic_record_appended_again_does_not_verify(
    config: AuditConfig, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    try:
        monkeypatch.setattr(codec, "utcnow", lambda: utcnow() - timedelta(hours=2))
        await store.append_intent(intent(1))  # written two hours ago
        monkeypatch.undo()
        for i in range(2, 5):
            await store.append_intent(intent(i))
        await store.checkpoint()
        assert (await store.verify()).ok
        append_as_application(config, request, tamperer(config, request).rows()[0][2])
        report = await store.verify()
    finally:
        await store.close()
    assert report.problem is not None and report.problem.startswith("record 5 was recorded at ")
    assert "more than 60 minutes before a record ahead of it" in report.problem


async def test_a_log_written_before_record_macs_verifies_but_cannot_be_extended_without_one(
    config: AuditConfig, request: pytest.FixtureRequest
) -> None:
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    try:
        now = period_of(utcnow())
        legacy = [
            codec.canonical_body(json.loads(codec.outcome_body(f"legacy-{i}", "old", outcome())))
            for i in range(3)
        ]
        assert all('"mac"' not in body for body in legacy)
        await store.append_bodies_at(legacy, [now] * 3)
        await store.append_intent(intent(4))  # the first record the new version writes carries a MAC
        await store.checkpoint()
        report = await store.verify()
        assert report.ok, report.problem
        assert report.unauthenticated == 3
        assert "3 records from before record MACs (not authenticated)" in report.summary()
        append_as_application(config, request, legacy[0].replace("legacy-0", "legacy-9"))
        report = await store.verify()
    finally:
        await store.close()
    assert report.problem is not None and report.problem.startswith(
        "record 5 has no record MAC, but record 4 before it has one"
    )


async def test_a_period_that_goes_back_does_not_verify(ten: tuple[AuditStore, Tamper]) -> None:
    store, t = ten
    t.add_partition(200001)
    rows = t.rows()
    rows[4] = (rows[4][0], 200001, rows[4][2], b"")
    t.replace_all(rechain(rows))
    report = await store.verify()
    assert report.problem is not None and report.problem.startswith(
        "record 5 is in period 200001, before period "
    )
    assert report.problem.endswith("of the record before it (periods never go back)")


async def test_a_period_far_ahead_of_the_records_time_does_not_verify(ten: tuple[AuditStore, Tamper]) -> None:
    store, t = ten
    t.add_partition(999912)
    rows = t.rows()
    rows[9] = (rows[9][0], 999912, rows[9][2], b"")
    t.replace_all(rechain(rows))
    report = await store.verify()
    assert report.problem == (
        "record 10 is in period 999912, later than the month after it was requested or recorded "
        "(periods follow requested_at)"
    )


def _delete_checkpoint_files(config: AuditConfig) -> None:
    directory = config.with_defaults().checkpoint_dir
    assert directory is not None
    for path in directory.glob("checkpoint-*.xml"):
        path.unlink()


async def test_deleting_every_checkpoint_and_the_tail_fails_verification_once_records_are_old(
    ten: tuple[AuditStore, Tamper], config: AuditConfig
) -> None:
    store, t = ten
    t.delete(8, 10)
    t.delete_checkpoints()
    _delete_checkpoint_files(config)
    assert (await verify_store(store)).ok  # fresh records: the service may not have signed them yet
    report = await verify_store(store, now=utcnow() + LATER)
    assert report.problem == (
        "record 1..7 recorded more than 2 checkpoint intervals ago but no checkpoint covers them "
        "(checkpoints deleted, or none written)"
    )


async def test_records_past_the_newest_checkpoint_must_be_newer_than_two_intervals(
    ten: tuple[AuditStore, Tamper],
) -> None:
    store, _ = ten
    await store.append_intent(intent(11))
    await store.append_intent(intent(12))
    assert (await verify_store(store, now=utcnow() + timedelta(minutes=1))).ok
    report = await verify_store(store, now=utcnow() + LATER)
    assert report.problem is not None and report.problem.startswith(
        "record 11..12 recorded more than 2 checkpoint intervals ago but no checkpoint covers them"
    )
    await store.checkpoint()
    assert (await verify_store(store, now=utcnow() + LATER)).ok


async def test_a_write_once_copy_of_the_checkpoints_shows_a_truncation_resigned_with_the_local_key(
    ten: tuple[AuditStore, Tamper], config: AuditConfig, tmp_path: Path
) -> None:
    store, t = ten
    local = config.with_defaults().checkpoint_dir
    assert local is not None
    copy = tmp_path / "worm-copy"
    shutil.copytree(local, copy)
    # the attacker has the database and the signing key that lies beside it
    t.delete(8, 10)
    t.delete_checkpoints()
    _delete_checkpoint_files(config)
    await store.checkpoint()
    assert (await store.verify()).ok  # what the local evidence says
    report = await store.verify(checkpoint_dir=copy)
    assert report.problem is not None and report.problem.startswith(
        "record 8..10 missing: the log ends at record 7 but checkpoint checkpoint-000000000010-"
    )
    assert report.problem.endswith("(file) covers 10 (truncated or rolled back)")


async def test_an_empty_or_missing_checkpoint_copy_fails_rather_than_passing_silently(
    ten: tuple[AuditStore, Tamper], tmp_path: Path
) -> None:
    store, _ = ten
    report = await store.verify(checkpoint_dir=tmp_path / "nowhere")
    assert report.problem == f"no checkpoint files in {tmp_path / 'nowhere'}"


async def test_records_macd_under_a_rotated_key_verify_while_that_key_is_configured(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    old_key, new_key = tmp_path / "old.key", tmp_path / "new.key"
    old_key.write_text(new_key_text())
    new_key.write_text(new_key_text())
    before = parse_audit_config({**raw_config, "data_key_file": str(old_key)}, tmp_path)
    rotated = parse_audit_config(
        {**raw_config, "data_key_file": str(new_key), "previous_data_key_files": [str(old_key)]}, tmp_path
    )
    forgotten = parse_audit_config({**raw_config, "data_key_file": str(new_key)}, tmp_path)
    for config, n in ((before, 1), (rotated, 2)):
        store = open_store(config, instance="t")
        await store.open(checkpoints=False)
        try:
            await store.append_intent(intent(n))
            await store.checkpoint()
        finally:
            await store.close()
    for config in (rotated, forgotten):
        store = open_store(config, instance="t")
        await store.open(checkpoints=False)
        try:
            report = await store.verify()
        finally:
            await store.close()
        if config is rotated:
            assert report.ok, report.problem
        else:
            old_kid = load_keyring(before).current.kid
            assert report.problem is not None and report.problem.startswith(
                f"record 1: its record MAC names audit data key {old_kid}, which is not configured"
            )


async def test_the_service_refuses_to_sign_evidence_holding_a_forged_record(
    ten: tuple[AuditStore, Tamper], config: AuditConfig, request: pytest.FixtureRequest
) -> None:
    store, t = ten
    append_as_application(config, request, forged_refusal(t.rows()[4][2], None))
    with pytest.raises(AuditUnavailable) as refused:
        await store.export(utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1))
    assert refused.value.detail == (
        "the log does not verify between record 1 and checkpoint 11: record 11 has no record MAC, but record 1 "
        "before it has one (appended without the audit data key)"
    )
