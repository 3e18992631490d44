"""The hash chain itself: canonical bodies, and that any change to any stored byte names its record."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xroad_vtj.audit.chain import GENESIS, canonical_body, record_hash
from xroad_vtj.audit.verify import VerifyReport, check_chain

_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)
# no timing in tests: a busy CI machine must not turn slow examples into failures
RELAXED = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
_BODIES = st.lists(st.dictionaries(st.sampled_from("abcdef"), _TEXT, min_size=1), min_size=1, max_size=12)


def _chain(bodies: list[str], period: int = 202611) -> list[tuple[int, int, bytes, bytes]]:
    rows, prev = [], GENESIS
    for seq, body in enumerate(bodies, start=1):
        prev = record_hash(prev, seq, period, body.encode())
        rows.append((seq, period, body.encode(), prev))
    return rows


def test_the_canonical_body_sorts_keys_without_whitespace_or_escapes() -> None:
    assert canonical_body({"b": "ä", "a": [1, None]}) == '{"a":[1,null],"b":"ä"}'


def test_the_record_hash_is_the_documented_formula() -> None:
    import hashlib

    body = b'{"kind":"intent"}'
    expected = hashlib.sha256(
        GENESIS + (7).to_bytes(8, "big") + (202611).to_bytes(4, "big") + hashlib.sha256(body).digest()
    ).digest()
    assert record_hash(GENESIS, 7, 202611, body) == expected


@RELAXED
@given(_BODIES)
def test_canonical_bodies_survive_a_json_round_trip(fields: list[dict[str, str]]) -> None:
    for f in fields:
        assert canonical_body(json.loads(canonical_body(f))) == canonical_body(f)


@RELAXED
@given(_BODIES, st.data())
def test_changing_any_byte_of_any_body_names_that_record(
    fields: list[dict[str, str]], data: st.DataObject
) -> None:
    rows = _chain([canonical_body(f) for f in fields])
    assert check_chain(rows).ok
    i = data.draw(st.integers(0, len(rows) - 1))
    seq, period, body, stored = rows[i]
    j = data.draw(st.integers(0, len(body) - 1))
    changed = body[:j] + bytes([body[j] ^ 0x01]) + body[j + 1 :]
    rows[i] = (seq, period, changed, stored)
    result = check_chain(rows)
    assert result.bad_seq == seq
    assert result.problem is not None and result.problem.startswith(f"record {seq} was altered")


@RELAXED
@given(_BODIES)
def test_a_digest_stream_checks_like_a_body_stream(fields: list[dict[str, str]]) -> None:
    import hashlib

    rows = _chain([canonical_body(f) for f in fields])
    digests = [(s, p, hashlib.sha256(b).digest(), h) for s, p, b, h in rows]
    assert check_chain(digests, digests=True).last_hash == check_chain(rows).last_hash == rows[-1][3]


def test_a_verify_report_is_json_able() -> None:
    report = VerifyReport(records=2, first_seq=1, last_seq=2, head_hash=b"\x01" * 32, checkpoints=1)
    doc = json.loads(json.dumps(report.as_dict()))
    assert doc["intact"] is True and doc["head_hash"] == "01" * 32
    assert doc["summary"].startswith("audit log intact: 2 records")
