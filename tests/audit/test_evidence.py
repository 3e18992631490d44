"""Signed evidence documents: ``prove`` (one query) and ``export`` (a period), checked with xmlsec1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from tests.audit.helpers import HETUS, intent, outcome, refusal
from tests.audit.tamper import PgTamper, SqliteTamper, Tamper
from tests.audit.test_checkpoint import xmlsec1_verifies
from xroad_vtj.audit.config import AuditConfig
from xroad_vtj.audit.evidence import check_proof
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.audit.xmldsig import SignatureInvalid
from xroad_vtj.errors import AuditUnavailable, NotFound

SCHEMA = etree.XMLSchema(
    etree.parse(str(Path(__file__).resolve().parents[2] / "schemas" / "audit-evidence.xsd"))
)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


async def _queries(store: AuditStore) -> None:
    """msg-0 .. msg-4, an hour apart from T0, each with an outcome; a checkpoint after msg-2; a refusal."""
    for i in range(5):
        who = "officer-1" if i == 2 else "officer-other"
        audit_id = await store.append_intent(
            intent(i, subject=HETUS[i % 4], end_user=who, requested_at=T0 + timedelta(hours=i))
        )
        await store.append_outcome(audit_id, outcome("found" if i != 3 else "not_found"))
        if i == 2:
            await store.checkpoint()
    await store.append_refusal(refusal())


def _cert(config: AuditConfig) -> Path:
    cert = config.with_defaults().signing_cert_file
    assert cert is not None
    return cert


def _flip(document: bytes, marker: bytes) -> bytes:
    data = bytearray(document)
    i = data.index(marker) + len(marker)
    data[i] = ord("x") if data[i] != ord("x") else ord("y")
    return bytes(data)


async def test_a_proof_verifies_with_xmlsec1_and_with_the_chain_math(
    store: AuditStore, config: AuditConfig, tmp_path: Path
) -> None:
    await _queries(store)
    document = await store.prove("msg-2")
    root = etree.fromstring(document)
    SCHEMA.assertValid(root)
    path = tmp_path / "proof.xml"
    path.write_bytes(document)
    assert xmlsec1_verifies(path, _cert(config))
    checked = check_proof(document, store.signer.verifier)
    assert checked.xroad_message_id == "msg-2"
    assert checked.checkpoint_seq == 6  # the checkpoint written right after msg-2's outcome


async def test_a_proof_discloses_only_its_own_query(store: AuditStore) -> None:
    await _queries(store)
    document = await store.prove("msg-2")
    assert b"officer-1" in document and HETUS[2].encode() in document
    assert b"officer-other" not in document
    for other in ("msg-0", "msg-1", "msg-3", "msg-4"):
        assert other.encode() not in document
    for hetu in (HETUS[0], HETUS[1], HETUS[3]):
        assert hetu.encode() not in document


async def test_a_proof_changed_by_one_byte_fails_both_checks(
    store: AuditStore, config: AuditConfig, tmp_path: Path
) -> None:
    await _queries(store)
    changed = _flip(await store.prove("msg-2"), b"<EndUser>")
    path = tmp_path / "changed.xml"
    path.write_bytes(changed)
    assert not xmlsec1_verifies(path, _cert(config))
    with pytest.raises(SignatureInvalid):
        check_proof(changed, store.signer.verifier)


async def test_proving_a_query_newer_than_every_checkpoint_writes_one(store: AuditStore) -> None:
    await _queries(store)
    checked = check_proof(await store.prove("msg-4"), store.signer.verifier)
    assert checked.checkpoint_seq == 11  # msg-4's outcome is record 10, the refusal 11
    with pytest.raises(NotFound):
        await store.prove("no-such-message")


async def test_an_export_holds_exactly_the_queries_of_the_period_and_verifies_with_xmlsec1(
    store: AuditStore, config: AuditConfig, tmp_path: Path
) -> None:
    await _queries(store)
    document = await store.export(T0 + timedelta(hours=1), T0 + timedelta(hours=3, minutes=30))
    root = etree.fromstring(document)
    SCHEMA.assertValid(root)
    ns = {"a": "urn:xroad-vtj:audit:1"}
    assert root.xpath("a:Queries/a:Query/a:XRoadMessageId/text()", namespaces=ns) == [
        "msg-1",
        "msg-2",
        "msg-3",
    ]
    assert root.xpath("a:Queries/a:Query/a:Subject/text()", namespaces=ns) == [HETUS[1], HETUS[2], HETUS[3]]
    assert root.xpath("a:Queries/a:Query[3]/a:Outcome/text()", namespaces=ns) == ["not_found"]
    path = tmp_path / "export.xml"
    path.write_bytes(document)
    assert xmlsec1_verifies(path, _cert(config))
    path.write_bytes(_flip(document, b"<Purpose>"))
    assert not xmlsec1_verifies(path, _cert(config))


async def test_an_empty_period_exports_an_empty_signed_document(
    store: AuditStore, config: AuditConfig, tmp_path: Path
) -> None:
    document = await store.export(T0, T0 + timedelta(days=1))
    SCHEMA.assertValid(etree.fromstring(document))
    path = tmp_path / "empty.xml"
    path.write_bytes(document)
    assert xmlsec1_verifies(path, _cert(config))


async def test_no_evidence_is_signed_from_a_log_that_does_not_verify(
    store: AuditStore, config: AuditConfig, request: pytest.FixtureRequest
) -> None:
    await _queries(store)
    tamper: Tamper
    if config.backend == "postgresql":
        tamper = PgTamper(request.getfixturevalue("pg_db").admin_dsn)
    else:
        assert config.sqlite_path is not None
        tamper = SqliteTamper(config.sqlite_path)
    seq, _, body, _ = tamper.rows()[4]  # msg-2's intent
    tamper.set_body(seq, body.replace('"officer-1"', '"someone-else"'))
    with pytest.raises(AuditUnavailable, match="does not verify"):
        await store.prove("msg-2")
    with pytest.raises(AuditUnavailable, match="does not verify"):
        await store.export(T0, T0 + timedelta(days=1))


async def test_checkpoint_documents_follow_the_schema(store: AuditStore) -> None:
    await store.append_intent(intent(1))
    await store.checkpoint()
    [(_, document)] = await store._checkpoint_documents()
    SCHEMA.assertValid(etree.fromstring(document))
