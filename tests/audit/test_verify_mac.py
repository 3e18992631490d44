"""The record MAC: what the service writes verifies; nothing else does, whatever bytes the database holds."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.audit.helpers import intent, refusal
from xroad_vtj.audit import codec
from xroad_vtj.audit.chain import canonical_body
from xroad_vtj.audit.keys import DataKey, Keyring
from xroad_vtj.audit.mac import MEMBER, Mac, MacChecker, sealed_body

KEYRING = Keyring(DataKey.from_bytes(os.urandom(32)))
CHECKER = MacChecker(KEYRING)
SEALED = codec.intent_body(intent(1, end_user='o"ff,"mac":"x'), "a-1", "t", KEYRING).encode()


def test_every_kind_of_body_the_service_writes_verifies() -> None:
    bodies = [
        SEALED,
        codec.refusal_body(refusal(), "a-2", "t", KEYRING),
        codec.event_body("audit_access", "t", {"n": 1}, KEYRING),
        codec.sweep_event_body("t", None, 0, KEYRING),
    ]
    for body in bodies:
        raw = body if isinstance(body, bytes) else body.encode()
        assert CHECKER.check(raw)[0] is Mac.VALID, raw


def test_a_tag_or_key_id_in_another_letter_case_does_not_verify() -> None:
    """Hex reads alike in either case: a changed case would verify while no longer repeating the tag, which
    is how a replayed record is recognised."""
    at = SEALED.index(b'"mac":"') + len(b'"mac":"')
    value = SEALED[at : at + 50]
    assert CHECKER.check(SEALED)[0] is Mac.VALID
    for changed in (value[:18] + value[18:].upper(), b"k" + value[1:17].upper() + value[17:]):
        if changed != value:
            assert CHECKER.check(SEALED[:at] + changed + SEALED[at + 50 :])[0] is not Mac.VALID


@given(st.integers(min_value=0, max_value=len(SEALED) - 1), st.integers(min_value=1, max_value=255))
def test_any_changed_byte_fails(position: int, delta: int) -> None:
    changed = bytearray(SEALED)
    changed[position] = (changed[position] + delta) % 256
    assert CHECKER.check(bytes(changed))[0] is not Mac.VALID


@settings(max_examples=300)
@given(st.binary(max_size=400) | st.text(max_size=200).map(lambda t: ('{"a":1,"mac":"' + t + '"}').encode()))
def test_arbitrary_bytes_never_verify_and_never_raise(body: bytes) -> None:
    assert CHECKER.check(body)[0] is not Mac.VALID


def test_checking_is_linear_in_the_body_size() -> None:
    def timed(n: int) -> float:
        body = b'{"a":"' + b'"mac":"' * n + b'"}'
        start = time.perf_counter()
        for _ in range(20):
            CHECKER.check(body)
        return time.perf_counter() - start

    small, large = timed(2_000), timed(32_000)
    assert large < small * 16 * 4 + 0.05


def test_a_search_answer_shows_its_records_mac_and_never_decrypts_an_altered_one() -> None:
    import json

    from xroad_vtj.audit.chain import canonical_body

    genuine = SEALED.decode()
    shown = codec.checked_search_result(1, genuine, None, KEYRING, CHECKER)
    assert shown["record_mac"] == "valid" and shown["subject"] == intent(1).subject
    fields = json.loads(genuine)
    fields["caller"] = "someone-else"
    altered = canonical_body(fields)  # the MAC kept: it no longer matches
    shown = codec.checked_search_result(1, altered, None, KEYRING, CHECKER)
    assert shown["record_mac"] == "invalid" and shown["subject"] is None
    del fields["mac"]
    fields["audit_id"] = "a-9"  # posing as a record from before MACs, with a subject sealed for another id
    shown = codec.checked_search_result(1, canonical_body(fields), None, KEYRING, CHECKER)
    assert shown["record_mac"] == "invalid" and shown["subject"] is None
    # a genuine intent whose outcome was forged: the query as a whole is not trusted
    outcome_fields = {"kind": "outcome", "audit_id": "a-1", "outcome": "not_found"}
    shown = codec.checked_search_result(1, genuine, canonical_body(outcome_fields), KEYRING, CHECKER)
    assert shown["record_mac"] == "absent"


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.lists(st.text(), max_size=3))


@given(st.dictionaries(st.text(max_size=8).filter(lambda k: k != MEMBER), _VALUES, max_size=12))
def test_a_body_sealed_in_one_pass_is_the_canonical_text_of_its_fields_and_its_mac(
    fields: dict[str, Any],
) -> None:
    """sealed_body serialises once: the text is the canonical text of the fields with the mac member, and (for
    a body with a member before it, as every record's audit_id is) the mac verifies."""
    sealed = sealed_body(fields, KEYRING)
    value = json.loads(sealed)[MEMBER]
    assert sealed == canonical_body({**fields, MEMBER: value})
    if any(k < MEMBER for k in fields):
        assert CHECKER.check(sealed.encode("utf-8", "surrogatepass"))[0] is Mac.VALID


def test_no_row_written_into_the_database_fails_the_search_it_is_in() -> None:
    import json

    def forged(**extra: object) -> str:
        fields = {"kind": "intent", "audit_id": "a1", "instance": "x", **extra}
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))

    not_text = codec.checked_search_result(1, forged(subject=5), None, KEYRING, CHECKER)
    assert (not_text["record_mac"], not_text["subject"]) == ("invalid", None)
    made_up_key = forged(subject="kzz:AAAA", mac="k" + "0" * 16 + ":" + "0" * 32)
    shown = codec.checked_search_result(1, made_up_key, None, KEYRING, CHECKER)
    assert (shown["record_mac"], shown["subject"]) == ("unknown_key", None)
    assert codec.checked_search_result(1, '{"kind":"intent"}', None, KEYRING, CHECKER) == {
        "seq": 1,
        "kind": "unknown",
        "record_mac": "invalid",
    }
