"""Record bodies: from :mod:`records` values to the stored JSON fields, and from stored bodies to search
results.

The body of every record carries ``v`` (format version), ``kind`` (``intent``, ``outcome``, ``refusal`` or
``event``), ``audit_id`` (shared by a query's intent and outcome), ``instance`` (the replica that wrote it)
and ``recorded_at``. The subject is stored as ``subject`` = ``kid:base64(nonce || AES-GCM ciphertext)`` with
the audit id as associated data, and ``subject_index`` = its HMAC blind index; the plain hetu is never
stored.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from xroad_vtj.audit.chain import canonical_body, iso, parse_iso, utcnow
from xroad_vtj.audit.keys import RANDOM, Keyring
from xroad_vtj.audit.mac import Mac, MacChecker, sealed_body, worst
from xroad_vtj.audit.records import PERSON_OPERATION, Intent, Outcome, Refusal
from xroad_vtj.errors import AuditUnavailable
from xroad_vtj.policy import end_user_key

FORMAT_VERSION = 1


_SURROGATES = re.compile("[\ud800-\udfff]")


def valid_text(text: str | None) -> str | None:
    """``text`` as valid Unicode: a lone surrogate (which UTF-8 cannot encode) becomes U+FFFD, so that a record
    holding a caller's bad text can still be written, and the replacement stays recognisable."""
    if text is None:
        return None
    try:
        text.encode()
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def new_audit_id() -> str:
    """A time-ordered UUID (version 7, RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    Time order keeps the ``audit_id`` index cheap to append to: a batch's intents, and the outcomes that follow
    them moments later, land in the index's newest pages instead of one random page per record (a random id
    made every record dirty a page of its own, written to the WAL at every commit). 74 random bits keep ids
    unguessable and unique; the time they show is the record's ``recorded_at`` to the millisecond, no secret."""
    value = time.time_ns() // 1_000_000 << 80 | int.from_bytes(RANDOM.take(10), "big")
    value = value & _V7_MASK | _V7_BITS
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_V7_MASK = ~(0xF << 76 | 0x3 << 62)  # the version and variant bits
_V7_BITS = 0x7 << 76 | 0x2 << 62  # version 7, variant RFC 9562


def _body(fields: Mapping[str, Any], keyring: Keyring | None) -> str:
    """The stored text: canonical, with its record MAC (:mod:`mac`) whenever the keyring is at hand."""
    return sealed_body(fields, keyring) if keyring is not None else canonical_body(fields)


def _head(kind: str, audit_id: str, instance: str) -> dict[str, Any]:
    return {
        "v": FORMAT_VERSION,
        "kind": kind,
        "audit_id": audit_id,
        "instance": instance,
        "recorded_at": iso(utcnow()),
    }


def intent_body(intent: Intent, audit_id: str, instance: str, keyring: Keyring) -> str:
    sealed, index = keyring.encrypt(intent.subject, audit_id)
    fields = _head("intent", audit_id, instance)
    end_user = valid_text(intent.end_user) or ""
    fields.update(
        caller=intent.caller,
        end_user=end_user,
        # the canonical end user quotas count by (NFKC, case-folded): its index cannot disagree with the body
        end_user_key=end_user_key(end_user),
        purpose=valid_text(intent.purpose),
        product=valid_text(intent.product),
        client=intent.client,
        service=intent.service,
        xroad_message_id=intent.xroad_message_id,
        subject=sealed,
        subject_index=index,
        request_sha512=intent.request_sha512,
        requested_at=iso(intent.requested_at),
        operation=intent.operation,
        route=intent.route,
        subject_kind=intent.subject_kind,
    )
    return _body(fields, keyring)


def outcome_fields(
    audit_id: str, instance: str, outcome: Outcome, keyring: Keyring | None = None
) -> dict[str, Any]:
    fields = _head("outcome", audit_id, instance)
    fields.update(
        outcome=outcome.outcome,
        completed_at=iso(outcome.completed_at),
        latency_us=round(outcome.latency_seconds * 1_000_000),
        http_status=outcome.http_status,
        error_code=outcome.error_code,
        return_code=outcome.return_code,
        fault_code=outcome.fault_code,
        fault_detail=outcome.fault_detail,
        fault_family=outcome.fault_family,
        received_request_hash=outcome.received_request_hash,
        data_categories=list(outcome.data_categories),
    )
    if outcome.new_subject is not None:
        if keyring is None:
            raise ValueError("an outcome with a new subject needs the keyring")
        fields["new_subject"], fields["new_subject_index"] = keyring.encrypt(outcome.new_subject, audit_id)
    return fields


def outcome_body(audit_id: str, instance: str, outcome: Outcome, keyring: Keyring | None = None) -> str:
    return _body(outcome_fields(audit_id, instance, outcome, keyring), keyring)


def unknown_outcome_body(
    intent: Mapping[str, Any], instance: str, now: datetime, keyring: Keyring | None = None
) -> str:
    """The outcome appended for an intent that never got one (the process died while the query was out)."""
    fields = _head("outcome", intent["audit_id"], instance)
    fields.update(
        outcome="outcome_unknown",
        completed_at=iso(now),
        latency_us=None,
        http_status=None,
        error_code="outcome_unknown",
        return_code=None,
        fault_code=None,
        fault_detail=None,
        fault_family=None,
        received_request_hash=None,
        data_categories=[],
        note="no outcome was recorded before the service stopped; the query may have been served",
    )
    return _body(fields, keyring)


# An intent is requested within this much of the moment it is written, whatever the replica's clock; a sweep
# only looks at intents requested after the previous sweep's bound minus this.
SWEEP_MARGIN = timedelta(days=1)


def sweep_event_body(
    instance: str,
    bound: datetime | None,
    marked: int,
    keyring: Keyring | None = None,
    *,
    covered: int | None = None,
) -> str:
    """The event each ``mark_unfinished_unknown`` leaves: after it, every intent requested before ``bound``
    with a seq up to ``covered`` (the head the sweep read to) has an outcome."""
    details: dict[str, Any] = {"bound": iso(bound) if bound is not None else None, "marked": marked}
    if covered is not None:
        details["covered"] = covered
    return event_body("unfinished_sweep", instance, details, keyring)


@dataclass(frozen=True, slots=True)
class SweepStart:
    """Where the next sweep must look for open intents: those requested at or after ``since`` (``""``: all)
    with a seq up to ``covered``, and every intent after ``covered`` (``None``: no seq bound is known, the time
    alone decides)."""

    since: str
    covered: int | None


def sweep_start(event_bodies: Iterable[str], checker: MacChecker | None = None) -> SweepStart:
    """From the newest events first: the newest sweep with a bound decides where the next one starts.

    A sweep that recorded the head it read (``covered``) closed every intent up to it requested before its
    bound: the next one reads the intents after it by seq, and those up to it from the bound on. An older sweep
    event (no ``covered``) says nothing about intents written after it with an earlier ``requested_at`` (another
    replica's clock): the next sweep reads from a margin before its bound.

    With ``checker``, only events the service wrote count: a row written into the database without the data
    key (a future bound, a huge ``covered``) must not make every later sweep skip the intents before it.
    MAC-less events count only when no event read has a MAC (a log from before record MACs)."""
    bodies = list(event_bodies)
    if checker is not None:
        verdicts = [checker.check(b.encode("utf-8", "surrogatepass"))[0] for b in bodies]
        trusted = Mac.VALID if Mac.VALID in verdicts else Mac.ABSENT
        bodies = [b for b, v in zip(bodies, verdicts, strict=True) if v is trusted]
    for body in bodies:
        fields = json.loads(body)
        if fields.get("event") == "unfinished_sweep" and fields.get("bound"):
            try:
                bound = parse_iso(fields["bound"])
            except (TypeError, ValueError):
                continue  # not a bound the service wrote: an older event decides
            covered = fields.get("covered")
            if isinstance(covered, int) and not isinstance(covered, bool):
                return SweepStart(iso(bound), covered)
            return SweepStart(iso(bound - SWEEP_MARGIN), None)
    return SweepStart("", None)  # never swept: every intent


def refusal_body(refusal: Refusal, audit_id: str, instance: str, keyring: Keyring) -> str:
    fields = _head("refusal", audit_id, instance)
    sealed: str | None = None
    index: str | None = None
    if refusal.subject is not None:
        sealed, index = keyring.encrypt(valid_text(refusal.subject) or "", audit_id)
    fields.update(
        caller=valid_text(refusal.caller),
        end_user=valid_text(refusal.end_user),
        purpose=valid_text(refusal.purpose),
        product=valid_text(refusal.product),
        subject=sealed,
        subject_index=index,
        reason=refusal.reason,
        requested_at=iso(refusal.requested_at),
        operation=refusal.operation,
        route=refusal.route,
        subject_kind=refusal.subject_kind if refusal.subject is not None else None,
    )
    return _body(fields, keyring)


def event_body(event: str, instance: str, details: Mapping[str, Any], keyring: Keyring | None = None) -> str:
    fields = _head("event", new_audit_id(), instance)
    fields.update(details)
    fields["event"] = event
    return _body(fields, keyring)


def search_result(
    seq: int, body: str, outcome: str | None, keyring: Keyring, *, decrypt: bool = True
) -> dict[str, Any]:
    """One search answer: a query (intent joined with its newest outcome) or a refusal, JSON-able; without
    ``decrypt`` the subjects are left out (None)."""
    rec: dict[str, Any] = json.loads(body)
    out: dict[str, Any] = json.loads(outcome) if outcome is not None else {}
    subject = rec.get("subject")
    audit_id = rec["audit_id"]
    refused = rec["kind"] == "refusal"
    latency_us = out.get("latency_us")
    return {
        "audit_id": audit_id,
        "seq": seq,
        "kind": "refusal" if refused else "query",
        "instance": rec.get("instance"),
        "xroad_message_id": rec.get("xroad_message_id"),
        "caller": rec.get("caller"),
        "end_user": rec.get("end_user"),
        "purpose": rec.get("purpose"),
        "product": rec.get("product"),
        "client": rec.get("client"),
        "service": rec.get("service"),
        "subject": keyring.decrypt(subject, audit_id) if subject is not None and decrypt else None,
        # records written before these fields existed were all person queries by hetu through X-Road
        "operation": rec.get("operation", PERSON_OPERATION),
        "route": rec.get("route", "xroad"),
        "subject_kind": rec.get("subject_kind", "hetu" if subject is not None else None),
        "new_subject": (
            keyring.decrypt(out["new_subject"], audit_id)
            if out.get("new_subject") is not None and decrypt
            else None
        ),
        "outcome": "refused" if refused else out.get("outcome"),
        "reason": rec.get("reason"),
        "requested_at": rec.get("requested_at"),
        "completed_at": out.get("completed_at"),
        "latency_seconds": latency_us / 1_000_000 if latency_us is not None else None,
        "http_status": out.get("http_status"),
        "error_code": out.get("error_code"),
        "return_code": out.get("return_code"),
        "fault_code": out.get("fault_code"),
        "fault_detail": out.get("fault_detail"),
        "fault_family": out.get("fault_family"),
        "received_request_hash": out.get("received_request_hash"),
        "request_sha512": rec.get("request_sha512"),
        "data_categories": out.get("data_categories", []),
    }


def checked_search_result(
    seq: int,
    body: str,
    outcome: str | None,
    keyring: Keyring,
    checker: MacChecker,
    others: Iterable[str] = (),
) -> dict[str, Any]:
    """:func:`search_result` with ``record_mac``: the worst record MAC verdict of the query's records (``body``,
    ``outcome`` and any ``others`` of it; see :func:`mac.worst`).

    Only a record with a valid MAC is trusted: one that does not decrypt raises (the configured keys are
    wrong, which must not pass quietly). Any other is shown as what it is and never fails the search it is in:
    a row someone wrote into the database must not hide the genuine records around it. Its subjects are shown
    only if they decrypt (never for ``invalid``); a MAC-less one that does not decrypt is ``invalid``; one
    naming a data key that is not configured stays ``unknown_key`` (configure the previous data keys)."""
    verdict = worst(checker, (body, outcome, *others))
    if verdict is Mac.VALID:
        result = search_result(seq, body, outcome, keyring)
    else:
        try:
            result = search_result(seq, body, outcome, keyring, decrypt=verdict is not Mac.INVALID)
        except (AuditUnavailable, AttributeError, TypeError, ValueError, KeyError):
            if verdict is Mac.ABSENT:
                verdict = Mac.INVALID  # no MAC, and a subject that does not decrypt: altered
            result = _undecrypted(seq, body, outcome, keyring)
    result["record_mac"] = verdict.value
    return result


def _undecrypted(seq: int, body: str, outcome: str | None, keyring: Keyring) -> dict[str, Any]:
    """A distrusted record's answer without its subjects; a body without the fields of one, as its seq only."""
    try:
        return search_result(seq, body, outcome, keyring, decrypt=False)
    except (AttributeError, TypeError, ValueError, KeyError):
        return {"seq": seq, "kind": "unknown"}


def time_bound(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None
