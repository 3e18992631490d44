"""The canonical form of a stored audit record and the hash chain that links the records.

Every record is one row ``(seq, period, body, hash)``:

``seq``
    1, 2, 3, ... with no gaps, in the order the records were committed (one writer at a time holds the log's
    write lock: SQLite ``BEGIN IMMEDIATE``, PostgreSQL a transaction-scoped advisory lock). ``period`` The
    month the record belongs to, ``YYYYMM`` as an integer; never smaller than the previous record's period, so
    that removing whole old periods (retention) removes a prefix of the chain. ``body`` The record itself: a
    JSON object serialised canonically - keys sorted, no insignificant whitespace, UTF-8 without ``\\u``
    escapes for non-ASCII characters, no floats (times are ISO 8601 strings with microseconds and ``Z``;
    durations are integer microseconds). The stored text *is* the canonical form: verification hashes the
    stored bytes and never re-serialises, so an independent verifier needs no JSON library at all. ``hash``
    ``SHA-256(prev_hash || seq as 8-byte big-endian || period as 4-byte big-endian || SHA-256(body))`` where
    ``prev_hash`` is the previous record's hash (32 zero bytes before record 1). Hashing the body separately
    lets an inclusion proof show the records after a disclosed one by their body digests alone, without their
    content."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

GENESIS = bytes(32)


def canonical_body(fields: Mapping[str, Any]) -> str:
    """The canonical JSON text of a record body."""
    return _CANONICAL.encode(fields)


# one encoder for every body (json.dumps with options builds a new one per call)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def body_digest(body: bytes) -> bytes:
    return sha256(body).digest()


def link(prev_hash: bytes, seq: int, period: int, digest: bytes) -> bytes:
    """The chain hash of a record from the previous record's hash and this record's body digest."""
    return sha256(prev_hash + seq.to_bytes(8, "big") + period.to_bytes(4, "big") + digest).digest()


def record_hash(prev_hash: bytes, seq: int, period: int, body: bytes) -> bytes:
    """The chain hash of a record from its body bytes (the writers' form of :func:`link`)."""
    return link(prev_hash, seq, period, sha256(body).digest())


def period_of(moment: datetime) -> int:
    moment = moment.astimezone(UTC)
    return moment.year * 100 + moment.month


def iso(moment: datetime) -> str:
    """Fixed-width ISO 8601 in UTC (so that text order is time order)."""
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None:
            raise ValueError("audit times must be timezone-aware")
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def parse_when(text: str) -> datetime:
    """A caller's ISO 8601 date or date-time (``Z`` allowed); without a zone it is UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
