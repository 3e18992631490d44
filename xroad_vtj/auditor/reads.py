"""What the view reads from the audit store, in one place.

Everything here goes through the store's public methods where they exist (``search``, ``raw_window``,
``raw_tail``, ``prove``) and otherwise through the same backend primitives the evidence module uses, so a
change of the store's internals touches this file only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from xroad_vtj.audit import checkpoint as checkpoint_doc
from xroad_vtj.audit import codec
from xroad_vtj.audit.mac import MacChecker
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.audit.xmldsig import SignatureInvalid

ACCESS_EVENT = "audit_access"
EVENT_CHUNK = 500  # events read per round trip when looking for the newest access events


@dataclass(frozen=True, slots=True)
class StoredRecord:
    seq: int
    period: int
    kind: str
    hash: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordView:
    """One query or refusal: the joined search result, and every stored record of it."""

    result: dict[str, Any]  # as :func:`codec.search_result` (subject decrypted)
    intent: StoredRecord
    outcomes: list[StoredRecord]  # oldest first; the last is the one in ``result``


async def record(store: AuditStore, audit_id: str) -> RecordView | None:
    rows = await store._rows_for_audit_ids([audit_id])
    stored = []
    for seq, period, body, hash_ in rows:
        text = body if isinstance(body, str) else body.decode()
        fields = json.loads(text)
        stored.append(StoredRecord(seq, period, fields["kind"], bytes(hash_).hex(), fields))
    first = [r for r in stored if r.kind in ("intent", "refusal")]
    if not first:
        return None
    outcomes = [r for r in stored if r.kind == "outcome"]
    by_seq = {seq: body for seq, _, body, _ in rows}
    head = first[0]
    newest = by_seq[outcomes[-1].seq] if outcomes else None
    # every stored record of the query counts, not only those shown: a forged extra outcome must show too
    result = codec.checked_search_result(
        head.seq,
        _text(by_seq[head.seq]),
        _text(newest) if newest is not None else None,
        store.keyring,
        MacChecker(store.keyring),
        [_text(body) for body in by_seq.values()],
    )
    return RecordView(result, head, outcomes)


def _text(body: bytes | str) -> str:
    return body if isinstance(body, str) else body.decode()


async def newest_checkpoint(store: AuditStore) -> checkpoint_doc.Checkpoint | None:
    """The stored checkpoint with the highest seq (signature checked), or None."""
    head, _ = await store._head()
    window = 16
    while True:
        low = max(0, head - window)
        docs = await store._checkpoint_documents(min_seq=low)
        if docs:
            try:
                return checkpoint_doc.read(store.signer.verifier, docs[-1][1], "database")
            except SignatureInvalid:
                return None  # the integrity check reports it; the overview shows no checkpoint
        if low == 0:
            return None
        window *= 16


@dataclass(frozen=True, slots=True)
class AccessEvent:
    seq: int
    at: datetime
    auditor: str
    page: str
    subject_indexes: list[str]
    filters: dict[str, str]
    results: int | None


async def access_events(store: AuditStore, limit: int = 20) -> list[AccessEvent]:
    """The newest ``audit_access`` events, newest first, however far back in the log they are (events are
    read a chunk at a time through their own index; other events, sweeps and retention, are skipped)."""
    found: list[AccessEvent] = []
    before: int | None = None
    while True:
        events = await store.newest_events(EVENT_CHUNK, before=before)
        for seq, body in events:
            fields = json.loads(body)
            if fields.get("event") == ACCESS_EVENT:
                found.append(
                    AccessEvent(
                        seq=seq,
                        at=datetime.fromisoformat(fields["recorded_at"].replace("Z", "+00:00")),
                        auditor=str(fields.get("auditor", "")),
                        page=str(fields.get("page", "")),
                        subject_indexes=list(fields.get("subject_indexes") or []),
                        filters={str(k): str(v) for k, v in (fields.get("filters") or {}).items()},
                        results=fields.get("results"),
                    )
                )
                if len(found) >= limit:
                    return found
        if len(events) < EVENT_CHUNK:
            return found
        before = events[-1][0]  # the oldest of this chunk: the next one starts below it
