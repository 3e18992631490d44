"""Signed checkpoints: written periodically and at shutdown, verifiable with the standard xmlsec1 tool."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.audit.helpers import intent, rsa_identity
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.store import open_store
from xroad_vtj.metrics import Metrics

XMLSEC1 = shutil.which("xmlsec1")


def xmlsec1_verifies(document: Path, cert: Path) -> bool:
    if XMLSEC1 is None:
        if os.environ.get("CI"):
            pytest.fail("xmlsec1 is not installed")
        pytest.skip("xmlsec1 is not installed")
    result = subprocess.run(
        [XMLSEC1, "--verify", "--pubkey-cert-pem", str(cert), str(document)], capture_output=True, check=False
    )
    return result.returncode == 0


async def test_the_service_writes_checkpoints_periodically_and_at_shutdown(
    config: AuditConfig, metrics: Metrics
) -> None:
    config = dataclasses.replace(config, checkpoint_interval_seconds=0.05)
    store = open_store(config, instance="t", metrics=metrics)
    await store.open()
    await store.append_intent(intent(1))
    directory = config.with_defaults().checkpoint_dir
    assert directory is not None
    for _ in range(1000):  # a generous wait, not a timing assertion
        if list(directory.glob("checkpoint-000000000001-*.xml")):
            break
        await asyncio.sleep(0.02)
    assert list(directory.glob("checkpoint-000000000001-*.xml"))
    await store.append_intent(intent(2))
    await store.close()
    assert list(directory.glob("checkpoint-000000000002-*.xml"))
    assert metrics.registry.get_sample_value("xroad_vtj_audit_last_checkpoint_timestamp_seconds")


async def test_a_checkpoint_file_verifies_with_xmlsec1_and_fails_after_one_byte_changes(
    config: AuditConfig, tmp_path: Path
) -> None:
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    await store.append_intent(intent(1))
    await store.checkpoint()
    await store.close()
    cfg = config.with_defaults()
    assert cfg.checkpoint_dir is not None and cfg.signing_cert_file is not None
    [document] = cfg.checkpoint_dir.glob("checkpoint-*.xml")
    assert xmlsec1_verifies(document, cfg.signing_cert_file)
    data = bytearray(document.read_bytes())
    i = data.index(b"<HeadHash")
    i = data.index(b">", i) + 1
    data[i] = ord("0") if data[i] != ord("0") else ord("1")
    changed = tmp_path / "changed.xml"
    changed.write_bytes(bytes(data))
    assert not xmlsec1_verifies(changed, cfg.signing_cert_file)


async def test_rsa_signing_keys_work_too(tmp_path: Path) -> None:
    key, cert = tmp_path / "rsa.key", tmp_path / "rsa.crt"
    rsa_identity(key, cert)
    config = AuditConfig(sqlite_path=tmp_path / "a.sqlite3", signing_key_file=key, signing_cert_file=cert)
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    await store.append_intent(intent(1))
    await store.checkpoint()
    report = await store.verify()
    await store.close()
    assert report.ok and report.checkpoints == 2
    [document] = (tmp_path / "audit-checkpoints").glob("*.xml")
    assert b"rsa-sha256" in document.read_bytes()
    assert xmlsec1_verifies(document, cert)


async def test_after_a_signing_key_change_old_checkpoints_verify_with_the_previous_certificate(
    config: AuditConfig, tmp_path: Path
) -> None:
    store = open_store(config, instance="t")
    await store.open(checkpoints=False)
    await store.append_intent(intent(1))
    await store.checkpoint()
    await store.close()

    old = config.with_defaults()
    assert old.signing_cert_file is not None
    new_key, new_cert = tmp_path / "new.key", tmp_path / "new.crt"
    rsa_identity(new_key, new_cert)
    changed = dataclasses.replace(old, signing_key_file=new_key, signing_cert_file=new_cert)
    for cfg, intact in (
        (changed, False),
        (dataclasses.replace(changed, previous_signing_cert_files=(old.signing_cert_file,)), True),
    ):
        store = open_store(cfg, instance="t")
        await store.open(checkpoints=False)
        try:
            await store.append_intent(intent(2))
            await store.checkpoint()
            report = await store.verify()
        finally:
            await store.close()
        assert report.ok is intact, report.problem
