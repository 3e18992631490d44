"""Checking the audit log: the hash chain, each record's body, the signed checkpoints.

:func:`check_chain` is backend-independent: it consumes ``(seq, period, body, hash)`` rows in seq order and
stops at the first bad record, naming it (the rows after it are only counted, so that a report of a broken log
still says how long it is). :func:`verify_store` is ``audit verify``: the chain, then every body once more in
pages (record MAC, replays, periods: :mod:`xroad_vtj.audit.record_checks`), the checkpoints' signatures and
head hashes, and that checkpoints cover every record older than two checkpoint intervals. Of the problems
found, the one naming the earliest record is reported, in the words docs/audit.md shows.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING

from xroad_vtj.audit.chain import GENESIS, utcnow
from xroad_vtj.audit.checkpoint import Checkpoint, exported
from xroad_vtj.audit.checkpoint import read as read_checkpoint
from xroad_vtj.audit.record_checks import BodyChecker, BodyFindings
from xroad_vtj.audit.xmldsig import SignatureInvalid

if TYPE_CHECKING:
    from xroad_vtj.audit.store import AuditStore

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
    rows_iter = iter(rows)
    for seq, period, body, stored in rows_iter:
        if seq != expected:
            result.bad_seq = expected if seq > expected else seq
            if seq > expected:
                result.problem = f"{records(expected, seq - 1)} missing (deleted)"
            elif seq == expected - 1:
                result.problem = f"record {seq} appears twice"
            else:
                result.problem = f"record {seq} out of order"
            return _drain(result, rows_iter, expected - anchor_seq, seq, stored)
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
            return _drain(result, rows_iter, expected - anchor_seq, seq, stored)
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


def _drain(result: ChainResult, rest: Iterable[Row], count: int, seq: int, stored: bytes) -> ChainResult:
    """After the first problem: count the remaining rows, so that a report of a broken log still says how
    many records it holds and where it ends (its stored head, which did not verify)."""
    last_seq, last_hash = seq, stored  # ``count``: the rows read so far, this one included
    for row in rest:
        count, last_seq, last_hash = count + 1, row[0], row[3]
    result.records = count
    result.first_seq = result.anchor_seq + 1 if count else None
    result.last_seq = last_seq
    result.last_hash = bytes(last_hash)
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
    unauthenticated: int = 0  # records without a record MAC (written before record MACs existed)

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
            "unauthenticated_records": self.unauthenticated,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        if not self.ok:
            return f"audit log NOT intact: {self.problem}"
        span = f"seq {self.first_seq}..{self.last_seq}" if self.records else "empty"
        legacy = (
            f", {self.unauthenticated} records from before record MACs (not authenticated)"
            if self.unauthenticated
            else ""
        )
        return (
            f"audit log intact: {self.records} records ({span}), head {self.head_hash.hex()}, "
            f"{self.checkpoints} checkpoints verified{legacy}"
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


def compare_checkpoints(
    chain: ChainResult, checkpoints: Sequence[Checkpoint]
) -> tuple[str | None, int | None]:
    """The first way in which the (intact) chain disagrees with the signed checkpoints, naming the records."""
    matched = chain.anchor_seq
    ordered = sorted(checkpoints, key=lambda c: c.seq)
    for cp in ordered:
        if cp.seq < chain.anchor_seq or cp.seq > chain.last_seq:
            continue  # removed by retention (its signature was checked), or beyond the log: below
        actual = chain.anchor_hash if cp.seq == chain.anchor_seq else chain.hashes_at.get(cp.seq)
        if actual != cp.head_hash:
            first = matched + 1
            return (
                f"{records(first, cp.seq)} rewritten: the head hash at record {cp.seq} differs from "
                f"checkpoint {cp.source}",
                first,
            )
        matched = cp.seq
    if ordered and ordered[-1].seq > chain.last_seq:
        newest, first = ordered[-1], chain.last_seq + 1
        return (
            f"{records(first, newest.seq)} missing: the log ends at record {chain.last_seq} but checkpoint "
            f"{newest.source} covers {newest.seq} (truncated or rolled back)",
            first,
        )
    return None, None


# The service writes a checkpoint every interval when records were added: a record older than two intervals
# that no checkpoint covers means checkpoints were deleted (or the service cannot sign).
STALE_INTERVALS = 2
PAGE = 5000


async def verify_store(
    store: AuditStore, *, checkpoint_dir: Path | None = None, now: datetime | None = None
) -> VerifyReport:
    """``audit verify``: the chain, every record's MAC and period, every checkpoint (database, and files in
    ``checkpoint_dir`` or ``audit.checkpoint_dir``), and that checkpoints cover all but the newest records."""
    verifier = store.signer.verifier
    directory = checkpoint_dir or store.config.checkpoint_dir
    files = await asyncio.to_thread(exported, directory)
    documents = [(f"{name} (file)", doc) for name, doc in files]
    documents += [(f"{seq} (database)", doc) for seq, doc in await store._checkpoint_documents()]

    def check_signatures() -> tuple[list[Checkpoint], str | None]:
        good: list[Checkpoint] = []
        bad: str | None = None
        for source, document in documents:
            try:
                good.append(read_checkpoint(verifier, document, source))
            except SignatureInvalid as e:
                bad = bad or str(e)
        return good, bad

    # thousands of signatures take a while: not on the event loop
    checkpoints, bad_signature = await asyncio.to_thread(check_signatures)
    # the searchable columns' check (PostgreSQL) runs in the database while this process walks the chain
    chain, derived_bad = await asyncio.gather(
        store._check_chain({c.seq for c in checkpoints}), store._derived_disagreement()
    )
    newest = max(checkpoints, key=lambda c: (c.seq, c.created_at), default=None)
    interval = timedelta(seconds=store.config.checkpoint_interval_seconds * STALE_INTERVALS)
    moment = now or utcnow()
    checker = BodyChecker(
        store.keyring, covered_through=newest.seq if newest else 0, stale_before=moment - interval
    )
    last = chain.last_seq if chain.ok else (chain.bad_seq or chain.last_seq)
    first = chain.anchor_seq + 1
    while first <= last and checker.feed(await store._rows_between(first, min(first + PAGE - 1, last))):
        first += PAGE
    found = checker.found
    problem, bad_seq = _first_problem(chain, found)
    if problem is None and checkpoint_dir is not None and not files:
        problem = f"no checkpoint files in {checkpoint_dir}"
    if problem is None:
        problem = bad_signature
    if problem is None:
        problem, bad_seq = compare_checkpoints(chain, checkpoints)
    if problem is None and derived_bad is not None:
        problem, bad_seq = (
            f"record {derived_bad}: a searchable column disagrees with the hashed body (searches and quotas"
            " read the columns; the body is intact)",
            derived_bad,
        )
    if problem is None and found.stale_first is not None and found.stale_last is not None:
        problem, bad_seq = (
            f"{records(found.stale_first, found.stale_last)} recorded more than {STALE_INTERVALS} checkpoint "
            f"intervals ago but no checkpoint covers them (checkpoints deleted, or none written)",
            found.stale_first,
        )
    if (
        problem is None
        and found.uncovered_unauthenticated
        and (newest is None or newest.created_at < moment - interval)
    ):
        after = newest.seq if newest else chain.anchor_seq
        problem, bad_seq = (
            f"{records(after + 1, chain.last_seq)} unprotected: no record MAC, and "
            + (
                f"the newest checkpoint ({newest.source}) is older than {STALE_INTERVALS} checkpoint intervals"
                if newest
                else "no checkpoint at all"
            ),
            after + 1,
        )
    return VerifyReport(
        records=chain.records,
        first_seq=chain.first_seq,
        last_seq=chain.last_seq,
        head_hash=chain.last_hash,
        checkpoints=len(checkpoints),
        problem=problem,
        bad_seq=bad_seq,
        unauthenticated=found.unauthenticated,
    )


def _first_problem(chain: ChainResult, found: BodyFindings) -> tuple[str | None, int | None]:
    """The chain's problem or the bodies' one, whichever names the earlier record, in exact words."""
    if found.problem is not None and (chain.bad_seq is None or (found.bad_seq or 0) <= chain.bad_seq):
        problem = found.problem
        if found.mac_invalid and chain.bad_seq == (found.bad_seq or 0) + 1:
            # its stored hash was recomputed to fit (the next record's link broke instead)
            problem = problem.replace(" was altered (", " was altered and re-hashed (", 1)
        return problem, found.bad_seq
    if chain.problem is None or chain.bad_seq is None:
        return None, None
    seq = chain.bad_seq
    authentic_from = found.first_authenticated
    if "was altered" in chain.problem and authentic_from is not None and authentic_from < seq:
        # the bodies of this record and the one before it are authentic: the link itself was changed
        return (
            f"record {seq} was altered (its content is authentic but its hash does not match the chain: "
            "records were moved, inserted or deleted, or a stored hash was changed)",
            seq,
        )
    return chain.problem, seq
