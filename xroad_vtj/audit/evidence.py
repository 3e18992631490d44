"""Signed XML evidence documents for auditors: ``export`` (every query of a period) and ``prove`` (one query).

Both are signed whole with XML-DSig (see :mod:`xmldsig`), so ``xmlsec1 --verify --pubkey-cert-pem
signing.crt FILE.xml`` is all an auditor needs to know the document comes from this audit log unaltered.
Schema: ``schemas/audit-evidence.xsd``.

``prove`` also carries a self-contained inclusion proof that needs no trust in the service beyond the
checkpoint key: the query's own records as stored (canonical JSON bodies, subject encrypted), the chain
segment from the record before the query's intent up to a signed checkpoint, in which every other record
appears only as ``(seq, period, SHA-256 of its body)`` - nothing of its content - and that checkpoint itself
(base64, verifiable on its own with xmlsec1). Recomputing ``hash = SHA-256(prev || seq || period || digest)``
along the segment must give the checkpoint's head hash.

``export`` refuses to sign unless the chain segment from its first record to a signed checkpoint recomputes
to that checkpoint's head hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lxml import etree

from xroad_vtj.audit import checkpoint as checkpoint_doc
from xroad_vtj.audit.chain import iso, link, utcnow
from xroad_vtj.audit.checkpoint import NS, ORIGIN
from xroad_vtj.audit.record_checks import BodyChecker
from xroad_vtj.audit.verify import Row, check_chain
from xroad_vtj.audit.xmldsig import SignatureInvalid, Verifier
from xroad_vtj.errors import AuditUnavailable, NotFound

if TYPE_CHECKING:
    from xroad_vtj.audit.store import AuditStore

_Q = f"{{{NS}}}"

# search-result key -> element name, in schema order
_QUERY_FIELDS = (
    ("xroad_message_id", "XRoadMessageId"),
    ("caller", "Caller"),
    ("end_user", "EndUser"),
    ("purpose", "Purpose"),
    ("product", "Product"),
    ("client", "Client"),
    ("service", "Service"),
    ("subject", "Subject"),
    ("instance", "Instance"),
    ("requested_at", "RequestedAt"),
    ("completed_at", "CompletedAt"),
    ("outcome", "Outcome"),
    ("reason", "Reason"),
    ("http_status", "HttpStatus"),
    ("return_code", "ReturnCode"),
    ("error_code", "ErrorCode"),
    ("fault_code", "FaultCode"),
    ("fault_detail", "FaultDetail"),
    ("fault_family", "FaultFamily"),
    ("latency_seconds", "LatencySeconds"),
    ("request_sha512", "RequestSha512"),
    ("received_request_hash", "ReceivedRequestHash"),
)


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    e = etree.SubElement(parent, _Q + name, attrib=attrs)
    if text is not None:
        e.text = text
    return e


def _root(name: str, instance: str, created_at: datetime) -> etree._Element:
    root = etree.Element(_Q + name, nsmap={None: NS})  # type: ignore[dict-item]  # lxml-stubs: default ns
    _el(root, "Origin", ORIGIN)
    _el(root, "CreatedAt", iso(created_at))
    _el(root, "Instance", instance)
    return root


def _query(
    parent: etree._Element, result: dict[str, Any], rows: Sequence[Row], prev: dict[int, bytes]
) -> None:
    q = _el(parent, "Query", auditId=result["audit_id"], kind=result["kind"])
    for key, name in _QUERY_FIELDS:
        value = result.get(key)
        if value is not None:
            _el(q, name, str(value))
    cats = _el(q, "DataCategories")
    for category in result.get("data_categories") or ():
        _el(cats, "Category", category)
    for seq, period, body, hash_ in rows:
        text = body if isinstance(body, str) else body.decode()
        _el(
            q,
            "Record",
            text,
            seq=str(seq),
            period=str(period),
            prevHash=prev[seq].hex(),
            hash=bytes(hash_).hex(),
        )


def _checkpoint_el(parent: etree._Element, cp: checkpoint_doc.Checkpoint, document: bytes) -> None:
    _el(
        parent,
        "SignedCheckpoint",
        base64.b64encode(document).decode(),
        seq=str(cp.seq),
        headHash=cp.head_hash.hex(),
        createdAt=iso(cp.created_at),
    )


async def _covering_checkpoint(store: AuditStore, seq: int) -> tuple[checkpoint_doc.Checkpoint, bytes]:
    """The oldest stored checkpoint at or after ``seq``; a new one is written when there is none yet."""
    docs = await store._checkpoint_documents(min_seq=seq, limit=1)
    if not docs:
        await store.checkpoint()
        docs = await store._checkpoint_documents(min_seq=seq, limit=1)
    if not docs:
        raise AuditUnavailable("no checkpoint covers the evidence")
    document = docs[0][1]
    try:
        return checkpoint_doc.read(store.signer.verifier, document, "database"), document
    except SignatureInvalid as e:
        raise AuditUnavailable(str(e)) from None


async def _segment(store: AuditStore, first: int, cp: checkpoint_doc.Checkpoint) -> tuple[list[Row], bytes]:
    """Records ``first..cp.seq`` and the hash before ``first``, checked against the checkpoint."""
    rows = await store._rows_between(max(first - 1, 1), cp.seq)
    # the bodies too (record MAC, replays, periods; the one before ``first`` says whether a MAC is due): the
    # service must not sign a record it did not write
    checker = BodyChecker(
        store.keyring, covered_through=cp.seq, stale_before=datetime.min.replace(tzinfo=UTC)
    )
    if not checker.feed(rows):
        raise AuditUnavailable(
            f"the log does not verify between record {first} and checkpoint {cp.seq}: {checker.found.problem}"
        )
    start_hash = b"\0" * 32
    if first > 1:
        if not rows or rows[0][0] != first - 1:
            raise AuditUnavailable(f"record {first - 1} is missing: the log does not verify")
        start_hash = bytes(rows[0][3])
        rows = rows[1:]
    result = check_chain(rows, anchor_seq=first - 1, anchor_hash=start_hash)
    if not result.ok or result.last_seq != cp.seq or result.last_hash != cp.head_hash:
        raise AuditUnavailable(
            f"the log does not verify between record {first} and checkpoint {cp.seq}: "
            f"{result.problem or 'head hash differs'}"
        )
    return rows, start_hash


def _previous_hashes(rows: Sequence[Row], start_seq: int, start_hash: bytes) -> dict[int, bytes]:
    prev: dict[int, bytes] = {}
    last = start_hash
    for seq, _, _, hash_ in rows:
        prev[seq] = last
        last = bytes(hash_)
    return prev


async def prove(store: AuditStore, xroad_id: str) -> bytes:
    """The signed proof document of the query with X-Road message id ``xroad_id``."""
    found = [r for r in await store.search(xroad_id=xroad_id, limit=10) if r["kind"] == "query"]
    if not found:
        raise NotFound("no audited query has that X-Road message id")
    result = found[-1]
    own = await store._rows_for_audit_ids([result["audit_id"]])
    first, last = own[0][0], own[-1][0]
    cp, cp_document = await _covering_checkpoint(store, last)
    rows, start_hash = await _segment(store, first, cp)
    prev = _previous_hashes(rows, first - 1, start_hash)

    root = _root("AuditProof", store.instance, utcnow())
    _query(root, result, own, prev)
    chain = _el(root, "Chain", startSeq=str(first - 1), startHash=start_hash.hex())
    for seq, period, body, _ in rows:
        raw = body.encode() if isinstance(body, str) else body
        _el(chain, "Link", seq=str(seq), period=str(period), digest=hashlib.sha256(raw).hexdigest())
    _checkpoint_el(root, cp, cp_document)
    return store.signer.sign(root)


async def export(store: AuditStore, since: datetime, until: datetime) -> bytes:
    """The signed export of every query and refusal requested in ``[since, until)``."""
    results = await store.search(since=since, until=until, limit=10_000_000)
    root = _root("AuditExport", store.instance, utcnow())
    _el(root, "From", iso(since))
    _el(root, "To", iso(until))
    queries = _el(root, "Queries", count=str(len(results)))
    if results:
        rows = await store._rows_for_audit_ids([r["audit_id"] for r in results])
        by_id: dict[str, list[Row]] = {}
        for row in rows:
            by_id.setdefault(_audit_id_of(row), []).append(row)
        first, last = rows[0][0], rows[-1][0]
        cp, cp_document = await _covering_checkpoint(store, last)
        segment, start_hash = await _segment(store, first, cp)
        prev = _previous_hashes(segment, first - 1, start_hash)
        for result in results:
            _query(queries, result, by_id[result["audit_id"]], prev)
        _checkpoint_el(root, cp, cp_document)
    return store.signer.sign(root)


def _audit_id_of(row: Row) -> str:
    audit_id: str = json.loads(row[2])["audit_id"]
    return audit_id


@dataclass(frozen=True, slots=True)
class ProofCheck:
    xroad_message_id: str
    checkpoint_seq: int


def check_proof(document: bytes, verifier: Verifier) -> ProofCheck:
    """Everything an auditor's own script would check in a proof; raises :class:`SignatureInvalid`."""
    root = verifier.verify(document)
    if root.tag != _Q + "AuditProof":
        raise SignatureInvalid("not a proof document")
    chain = root.find(_Q + "Chain")
    signed = root.find(_Q + "SignedCheckpoint")
    query = root.find(_Q + "Query")
    if chain is None or signed is None or query is None:
        raise SignatureInvalid("incomplete proof document")
    cp = checkpoint_doc.read(verifier, base64.b64decode(signed.text or ""), "embedded")
    digests = {
        int(r.get("seq", "")): hashlib.sha256((r.text or "").encode()).digest()
        for r in query.iter(_Q + "Record")
    }
    h = bytes.fromhex(chain.get("startHash", ""))
    seq = int(chain.get("startSeq", ""))
    for link_el in chain.iter(_Q + "Link"):
        seq_i, period, digest = (
            int(link_el.get("seq", "")),
            int(link_el.get("period", "")),
            bytes.fromhex(link_el.get("digest", "")),
        )
        if seq_i != seq + 1:
            raise SignatureInvalid(f"chain link {seq_i} out of order")
        if seq_i in digests and digests.pop(seq_i) != digest:
            raise SignatureInvalid(f"record {seq_i} does not match its chain link")
        h = link(h, seq_i, period, digest)
        seq = seq_i
    if digests:
        raise SignatureInvalid("a record of the query is outside the chain segment")
    if seq != cp.seq or h != cp.head_hash:
        raise SignatureInvalid("the chain segment does not end at the signed checkpoint")
    return ProofCheck(query.findtext(_Q + "XRoadMessageId") or "", cp.seq)
