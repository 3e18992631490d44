"""Fault texts for logs and records: keyed with a key derived from the audit data key, withheld without one."""

from __future__ import annotations

import base64
from pathlib import Path

from xroad_vtj.fault_texts import WITHHELD, FaultTexts, read_data_key
from xroad_vtj.xroad import fault_digest, fault_digest_key

FREE_TEXT = "Henkilö 010280-952L ei kelpaa"


def key_file(tmp_path: Path, key: bytes) -> Path:
    path = tmp_path / "audit-data.key"
    path.write_text(base64.b64encode(key).decode() + "\n")
    return path


def test_free_text_is_digested_with_the_key_derived_from_the_audit_data_key(tmp_path: Path) -> None:
    key = bytes(range(32))
    texts = FaultTexts(key_file(tmp_path, key))
    assert texts.loggable(FREE_TEXT) == fault_digest(FREE_TEXT, fault_digest_key(key))
    assert texts.loggable("Server.ClientProxy.NetworkError") == "Server.ClientProxy.NetworkError"
    assert texts.loggable(None) is None


def test_the_key_file_may_appear_after_start(tmp_path: Path) -> None:
    path = tmp_path / "audit-data.key"
    texts = FaultTexts(path)
    assert texts.loggable(FREE_TEXT) == WITHHELD  # the store creates the file when it opens
    key_file(tmp_path, bytes(32))
    assert texts.loggable(FREE_TEXT) == fault_digest(FREE_TEXT, fault_digest_key(bytes(32)))


def test_without_a_readable_key_free_text_is_withheld_and_codes_are_kept(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not base64!\n")
    for texts in (FaultTexts(None), FaultTexts(bad), FaultTexts(key_file(tmp_path, b"short"))):
        assert texts.loggable(FREE_TEXT) == WITHHELD
        assert texts.loggable("Aino.Testinen") == WITHHELD
        assert texts.loggable("soap:Server") == "soap:Server"
    assert read_data_key(bad) is None
