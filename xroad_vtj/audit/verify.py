"""Checking the hash chain: every record's hash, the links between records, no gaps, no duplicates.

:func:`check_chain` is backend-independent: it consumes ``(seq, period, body, hash)`` rows in seq order and
stops at the first bad record, naming it. Checkpoints (signatures, coverage) are checked in
:mod:`xroad_vtj.audit.checkpoint` on top of the hashes this collects.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from hashlib import sha256

from xroad_vtj.audit.chain import GENESIS

Row = tuple[int, int, "bytes | str", bytes]
_SEQ_PERIOD = struct.Struct(">QI")  # seq as 8-byte, period as 4-byte big-endian


def records(first: int, last: int) -> str:
    """``record 4`` or ``record 4..10``: how problems name records."""
    return f"record {first}" if first == last else f"record {first}..{last}"


@dataclass(slots=True)
class ChainResult:
    records: int = 0
    first_seq: int | None = None
    last_seq: int = 0
    last_hash: bytes = GENESIS
    bad_seq: int | None = None
    problem: str | None = None
    hashes_at: dict[int, bytes] = field(default_factory=dict)  # the recomputed hash at each requested seq
    anchor_seq: int = 0
    anchor_hash: bytes = GENESIS

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_chain(
    rows: Iterable[Row],
    *,
    anchor_seq: int = 0,
    anchor_hash: bytes = GENESIS,
    remember: Collection[int] = (),
    digests: bool = False,
) -> ChainResult:
    """Walk the chain from ``anchor_seq``/``anchor_hash``: the record before the first row (``0``/zeros,
    or where retention left it).

    The hash of every record is recomputed from the previous record's recomputed hash, so an edited record is
    named itself, and a record whose stored hash was also rewritten is caught one record later (or by a
    checkpoint when the whole tail was rewritten).
    """
    result = ChainResult(
        last_seq=anchor_seq, last_hash=anchor_hash, anchor_seq=anchor_seq, anchor_hash=anchor_hash
    )
    prev = anchor_hash
    expected = anchor_seq + 1
    want = set(remember)
    pack = _SEQ_PERIOD.pack  # the hot loop of `audit verify`: names bound locally, one pack per record
    for seq, period, body, stored in rows:
        if seq != expected:
            result.bad_seq = expected if seq > expected else seq
            if seq > expected:
                result.problem = f"{records(expected, seq - 1)} missing (deleted)"
            elif seq == expected - 1:
                result.problem = f"record {seq} appears twice"
            else:
                result.problem = f"record {seq} out of order"
            return result
        if digests:  # the store already hashed the body (PostgreSQL does it server-side, on another core)
            h = sha256(prev + pack(seq, period) + body).digest()  # type: ignore[operator]
        else:
            if body.__class__ is str:
                body = body.encode()
            h = sha256(prev + pack(seq, period) + sha256(body).digest()).digest()  # type: ignore[arg-type]
        if h != stored and h != bytes(stored):
            result.bad_seq = seq
            result.problem = f"record {seq} was altered (its content or hash does not match the chain)"
            if seq > anchor_seq + 1:
                result.problem += f"; or record {seq - 1} was altered and re-hashed"
            return result
        if want and seq in want:
            result.hashes_at[seq] = h
        prev = h
        expected += 1
    result.records = expected - 1 - anchor_seq
    if result.records:
        result.first_seq = anchor_seq + 1
    result.last_seq = expected - 1
    result.last_hash = prev
    return result


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What ``audit verify`` found: either intact, or the first problem, naming the record."""

    records: int
    first_seq: int | None
    last_seq: int
    head_hash: bytes
    checkpoints: int = 0
    problem: str | None = None
    bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, object]:
        """JSON-able, e.g. for ``GET /v1/audit/verify``."""
        return {
            "intact": self.ok,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head_hash": self.head_hash.hex(),
            "checkpoints": self.checkpoints,
            "problem": self.problem,
            "bad_seq": self.bad_seq,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        if not self.ok:
            return f"audit log NOT intact: {self.problem}"
        span = f"seq {self.first_seq}..{self.last_seq}" if self.records else "empty"
        return (
            f"audit log intact: {self.records} records ({span}), head {self.head_hash.hex()}, "
            f"{self.checkpoints} checkpoints verified"
        )


def walk_log(
    first_seq: int | None,
    event_bodies: Callable[[], Iterable[str]],
    rows: Callable[[], Iterable[Row]],
    remember: Collection[int] = (),
    *,
    digests: bool = False,
) -> ChainResult:
    """Check a whole stored log: find where it starts (record 1, or the retention anchor), then the chain."""
    anchor: tuple[int, bytes] | None = (0, GENESIS)
    if first_seq is not None and first_seq > 1:
        anchor = anchor_from_events(first_seq, event_bodies())
        if anchor is None:
            return ChainResult(
                bad_seq=1, problem=f"{records(1, first_seq - 1)} missing (deleted without retention)"
            )
    assert anchor is not None
    return check_chain(
        rows(), anchor_seq=anchor[0], anchor_hash=anchor[1], remember=remember, digests=digests
    )


def anchor_from_events(first_seq: int, event_bodies: Iterable[str]) -> tuple[int, bytes] | None:
    """The (seq, hash) of the record before ``first_seq`` as a retention event recorded it, if any."""

    for body in event_bodies:
        fields = json.loads(body)
        if fields.get("event") == "retention" and fields.get("last_removed_seq") == first_seq - 1:
            return first_seq - 1, bytes.fromhex(fields["last_removed_hash"])
    return None
