"""Every kind of tampering is detected by ``verify``, naming the record."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest

from tests.audit.helpers import intent
from tests.audit.tamper import PgTamper, SqliteTamper, Tamper, rechain
from xroad_vtj.audit.chain import record_hash
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.store import AuditStore, open_store


def tamperer(config: AuditConfig, request: pytest.FixtureRequest) -> Tamper:
    if config.backend == "postgresql":
        return PgTamper(request.getfixturevalue("pg_db").admin_dsn)
    assert config.sqlite_path is not None
    return SqliteTamper(config.sqlite_path)


@pytest.fixture
async def ten(
    config: AuditConfig, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[AuditStore, Tamper]]:
    """A log of ten records with signed checkpoints at records 3 and 10."""
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    for i in range(1, 11):
        await store.append_intent(intent(i))
        if i in (3, 10):
            await store.checkpoint()
    yield store, tamperer(config, request)
    await store.close()


def _edit(t: Tamper) -> None:
    seq, _, body, _ = t.rows()[3]
    t.set_body(seq, body.replace('"case-4"', '"case-X"'))


def _edit_and_rehash(t: Tamper) -> None:
    rows = t.rows()
    body = rows[3][2].replace('"case-4"', '"case-X"')
    t.set_body(4, body)
    t.set_hash(4, record_hash(rows[2][3], 4, rows[3][1], body.encode()))


def _delete(t: Tamper) -> None:
    t.delete(4, 4)


def _delete_first(t: Tamper) -> None:
    t.delete(1, 1)


def _reorder(t: Tamper) -> None:
    rows = t.rows()
    t.set_body(4, rows[4][2])
    t.set_body(5, rows[3][2])


def _insert(t: Tamper) -> None:
    rows = t.rows()
    forged = json.loads(rows[3][2])
    forged.update(audit_id="forged", xroad_message_id="msg-forged")
    rows.insert(3, (0, rows[3][1], json.dumps(forged, sort_keys=True, separators=(",", ":")), b""))
    chained = rechain(rows[:4])  # the forged record chains correctly onto record 3 ...
    t.replace_all(chained + [(seq + 1, p, b, h) for seq, p, b, h in rows[4:]])  # ... the rest is shifted


def _rewrite_tail_with_valid_hashes(t: Tamper) -> None:
    rows = t.rows()
    body = rows[5][2].replace('"case-6"', '"case-X"')
    rows[5] = (rows[5][0], rows[5][1], body, b"")
    t.replace_all(rechain(rows))


def _truncate_tail(t: Tamper) -> None:
    t.delete(8, 10)


def _rechain_reordered(t: Tamper) -> None:
    """Authentic records (every MAC valid) swapped and the chain recomputed: only a checkpoint can tell."""
    rows = t.rows()
    rows[5], rows[6] = rows[6], rows[5]
    t.replace_all(rechain(rows))


def _truncate_past_two_checkpoints(t: Tamper) -> None:
    t.delete(3, 10)  # checkpoints at 3 and 10: the message names every record the newest one covers


MAC = "(its content does not match its record MAC)"


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (_edit, f"record 4 was altered {MAC}"),
        (_edit_and_rehash, f"record 4 was altered and re-hashed {MAC}"),
        (_delete, "record 4 missing (deleted)"),
        (_delete_first, "record 1 missing (deleted without retention)"),
        (
            _reorder,
            "record 4 was altered (its content is authentic but its hash does not match the chain: records "
            "were moved, inserted or deleted, or a stored hash was changed)",
        ),
        (_insert, f"record 4 was altered and re-hashed {MAC}"),
        (_rewrite_tail_with_valid_hashes, f"record 6 was altered {MAC}"),
        (_rechain_reordered, "record 4..10 rewritten: the head hash at record 10 differs from checkpoint "),
        (_truncate_tail, "record 8..10 missing: the log ends at record 7 but checkpoint "),
        (_truncate_past_two_checkpoints, "record 3..10 missing: the log ends at record 2 but checkpoint "),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
async def test_tampering_is_detected_naming_the_record(
    ten: tuple[AuditStore, Tamper], tamper: Callable[[Tamper], None], named: str
) -> None:
    store, t = ten
    assert (await store.verify()).ok
    tamper(t)
    report = await store.verify()
    assert not report.ok
    assert report.problem is not None and report.problem.startswith(named), report.problem


async def test_a_tampered_log_still_reports_its_size_and_stored_head(ten: tuple[AuditStore, Tamper]) -> None:
    store, t = ten
    stored_head = t.rows()[-1][3]
    _edit(t)
    report = (await store.verify()).as_dict()
    assert report["intact"] is False and report["bad_seq"] == 4
    assert (report["records"], report["first_seq"], report["last_seq"]) == (10, 1, 10)
    assert report["head_hash"] == stored_head.hex()


async def test_a_rollback_to_an_older_copy_is_detected(
    config: AuditConfig, request: pytest.FixtureRequest
) -> None:
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    t = tamperer(config, request)
    try:
        for i in range(6):
            await store.append_intent(intent(i))
        old = t.snapshot()
        for i in range(6, 10):
            await store.append_intent(intent(i))
        await store.checkpoint()
    finally:
        await store.close()
    t.restore(old)
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    try:
        report = await store.verify()
    finally:
        await store.close()
    assert report.problem is not None and "record 7..10 missing" in report.problem
    assert "rolled back" in report.problem


async def test_a_checkpoint_file_changed_by_one_byte_fails_verification(
    ten: tuple[AuditStore, Tamper], config: AuditConfig
) -> None:
    store, _ = ten
    directory = config.with_defaults().checkpoint_dir
    assert directory is not None
    newest = sorted(directory.glob("checkpoint-*.xml"))[-1]
    data = bytearray(newest.read_bytes())
    i = data.index(b"<Seq>") + 5
    data[i : i + 2] = b"11"  # claim one more record
    newest.write_bytes(bytes(data))
    report = await store.verify()
    assert report.problem is not None and "signature" in report.problem and newest.name in report.problem


async def test_an_intact_log_verifies_with_every_checkpoint(ten: tuple[AuditStore, Tamper]) -> None:
    store, _ = ten
    report = await store.verify()
    assert report.ok, report.problem
    assert report.records == 10
    assert report.checkpoints == 4  # two in the database, two files
    assert report.summary().startswith("audit log intact: 10 records (seq 1..10)")
