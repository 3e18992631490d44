"""Record authentication: every body carries an HMAC keyed from the audit data key, which the database never sees.

The hash chain has no secret: anyone who can insert rows can append a record with a correct chain hash. The
record MAC closes that: ``mac = "<kid>:" + hex(HMAC-SHA256(mac key, body without its mac member))[:32]``,
where the mac key is derived from the data key ``kid`` (HMAC-SHA256 over a fixed label, like the subject
keys) and the body without the mac is the canonical text exactly as it would be without that one member.
Because keys are sorted and ``audit_id`` always precedes ``mac``, the stored body is that text with
``,"mac":"…"`` inserted at its sorted place, and a verifier removes exactly that member again: no JSON parsing,
no re-serialisation.

Rotation: new records use the current data key; a record names its key by ``kid``, so records MAC'd under a
key moved to ``audit.previous_data_key_files`` still verify. Records written before record MACs existed carry
none; they are accepted only before the first record that has one (see :mod:`xroad_vtj.audit.verify`).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from xroad_vtj.audit.chain import canonical_body
from xroad_vtj.audit.keys import Keyring

MEMBER = "mac"
_OPEN = b'"mac":"'
_TAG_HEX = 32  # 128 bits
_LOWER_HEX = re.compile(rb"[0-9a-f]+")
_VALUE_LEN = 17 + 1 + _TAG_HEX  # "k" + 16 hex digits, ":", the tag


def _tag(key: bytes, unsealed: bytes) -> str:
    return hmac.digest(key, unsealed, "sha256").hex()[:_TAG_HEX]


def sealed_body(fields: Mapping[str, Any], keyring: Keyring) -> str:
    """The canonical body of ``fields`` with its record MAC under the current data key.

    Serialised once (this runs for every record, on the event loop): the members sorting before ``mac`` and
    those after it are two canonical objects; joined, they are the unsealed text, and joined around the mac
    member, the sealed one - the same text as serialising ``{**fields, "mac": ...}`` all over again."""
    if MEMBER in fields:
        raise ValueError("a record body may not carry its own mac member")
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in fields.items():
        (before if name < MEMBER else after)[name] = value
    head = canonical_body(before)[:-1]  # "{...", no "}"
    tail = canonical_body(after)[1:]  # "...}", no "{"
    key = keyring.current
    # surrogatepass: a body with a lone surrogate is refused where it is written, not here (the same bytes as
    # the stored UTF-8 for every body that can be stored)
    unsealed = head + ("," if len(head) > 1 and len(tail) > 1 else "") + tail
    tag = _tag(key.mac_key, unsealed.encode("utf-8", "surrogatepass"))
    member = f'"{MEMBER}":"{key.kid}:{tag}"'  # key id and tag are hex: nothing to escape
    return head + ("," if len(head) > 1 else "") + member + ("," if len(tail) > 1 else "") + tail


class Mac(Enum):
    VALID = "valid"
    ABSENT = "absent"  # a record written before record MACs existed (or a forgery pretending to be one)
    INVALID = "invalid"
    UNKNOWN_KEY = "unknown_key"


class MacChecker:
    """Checks the record MAC of stored bodies under every configured data key."""

    def __init__(self, keyring: Keyring) -> None:
        self._keys = {k.kid.encode(): k.mac_key for k in keyring.all}
        self.last_kid = ""  # the key id of the last UNKNOWN_KEY answer, for the message

    def check(self, body: bytes) -> tuple[Mac, bytes]:
        """``(verdict, tag)``: the tag identifies the record (a replayed record repeats it)."""
        at = body.find(_OPEN)
        if at < 0:
            return Mac.ABSENT, b""
        # exactly one member, at top level after another member: inside a JSON string `"` is always escaped, so
        # `"mac":"` can only be a key; a second one, or one not preceded by `,`, is not a body the service wrote
        start = at + len(_OPEN)
        end = start + _VALUE_LEN
        value = body[start:end]
        if (
            body[at - 1 : at] != b","
            or body[end : end + 1] != b'"'
            or value[17:18] != b":"
            or value[:1] != b"k"
            or body.find(_OPEN, start) >= 0
        ):
            return Mac.INVALID, b""
        kid, tag = value[:17], value[18:]
        # lower-case hex only, as written: fromhex also reads upper case, and a tag whose case was changed
        # would verify while no longer repeating the original (a replayed record must repeat its tag)
        if not (_LOWER_HEX.fullmatch(kid[1:]) and _LOWER_HEX.fullmatch(tag)):
            return Mac.INVALID, b""
        expected = bytes.fromhex(tag.decode())
        key = self._keys.get(kid)
        if key is None:
            self.last_kid = kid.decode()
            return Mac.UNKNOWN_KEY, tag
        actual = hmac.digest(key, body[: at - 1] + body[end + 1 :], "sha256")[: _TAG_HEX // 2]
        if not hmac.compare_digest(actual, expected):
            return Mac.INVALID, tag
        return Mac.VALID, tag


# how much a reader should distrust a record: a search answer shows the worst verdict of its records
_SEVERITY = {Mac.VALID: 0, Mac.ABSENT: 1, Mac.UNKNOWN_KEY: 2, Mac.INVALID: 3}


def worst(checker: MacChecker, bodies: Iterable[str | None]) -> Mac:
    """The least trustworthy verdict over ``bodies`` (``None``: no such record, e.g. no outcome yet).

    ``absent`` is what a record written before record MACs existed shows, and also what a forgery pretending
    to be one shows: only ``audit verify`` can tell them apart (MAC-less records are valid only as a prefix)."""
    verdict = Mac.VALID
    for body in bodies:
        if body is not None:
            found, _ = checker.check(body.encode("utf-8", "surrogatepass"))
            if _SEVERITY[found] > _SEVERITY[verdict]:
                verdict = found
    return verdict
