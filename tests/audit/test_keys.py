"""Subject encryption, the blind index and data key rotation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.audit.helpers import HETUS, intent, sqlite_rows
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.keys import DataKey, Keyring, new_key_text, read_key_file
from xroad_vtj.audit.store import open_store
from xroad_vtj.errors import AuditUnavailable, ConfigError


def test_the_blind_index_ignores_case_and_blanks_but_depends_on_the_key() -> None:
    a = DataKey.from_bytes(bytes(32))
    b = DataKey.from_bytes(bytes(31) + b"\x01")
    assert a.blind_index(" 010280-952l ") == a.blind_index("010280-952L")
    assert a.blind_index("010280-952L") != b.blind_index("010280-952L")
    assert a.blind_index("010280-952L") != a.blind_index("260991-999R")


def test_a_subject_sealed_for_one_record_does_not_open_for_another() -> None:
    ring = Keyring(DataKey.from_bytes(bytes(32)))
    sealed, _ = ring.encrypt(HETUS[0], "audit-1")
    assert ring.decrypt(sealed, "audit-1") == HETUS[0]
    with pytest.raises(AuditUnavailable, match="does not decrypt"):
        ring.decrypt(sealed, "audit-2")


@pytest.mark.parametrize("content", ["", "not base64!", "c2hvcnQ=", "\u00e4"])
def test_a_bad_key_file_is_a_configuration_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"audit\.data_key_file"):
        read_key_file(path, "audit.data_key_file")


async def test_after_rotation_old_records_stay_readable_and_new_ones_use_the_new_key(tmp_path: Path) -> None:
    old_key, new_key = tmp_path / "old.key", tmp_path / "new.key"
    old_key.write_text(new_key_text())
    new_key.write_text(new_key_text())
    before = AuditConfig(sqlite_path=tmp_path / "a.sqlite3", data_key_file=old_key)
    store = open_store(before, instance="t")
    await store.open()
    await store.append_intent(intent(1, subject=HETUS[0]))
    await store.close()

    after = dataclasses.replace(before, data_key_file=new_key, previous_data_key_files=(old_key,))
    store = open_store(after, instance="t")
    await store.open()
    try:
        await store.append_intent(intent(2, subject=HETUS[0]))
        found = await store.search(subject=HETUS[0])
    finally:
        await store.close()
    assert [(r["xroad_message_id"], r["subject"]) for r in found] == [
        ("msg-1", HETUS[0]),
        ("msg-2", HETUS[0]),
    ]
    kids = [
        json.loads(body)["subject"].split(":")[0] for _, _, body, _ in sqlite_rows(tmp_path / "a.sqlite3")
    ]
    assert kids == [read_key_file(old_key, "k").kid, read_key_file(new_key, "k").kid]

    forgotten = dataclasses.replace(before, data_key_file=new_key)
    store = open_store(forgotten, instance="t")
    await store.open()
    try:
        # a search shows what it cannot read as such (it must not fail because of one row) ...
        (found_old,) = await store.search(xroad_id="msg-1")
        assert (found_old["subject"], found_old["record_mac"]) == (None, "unknown_key")
        # ... and evidence, which must hold the record whole, refuses it, naming the key
        with pytest.raises(AuditUnavailable, match=read_key_file(old_key, "k").kid):
            await store.prove("msg-1")
    finally:
        await store.close()
