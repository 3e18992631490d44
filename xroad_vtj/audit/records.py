"""The values the service hands to the audit store: what it intends to ask, what came back, what it refused.

These are plain values; :mod:`xroad_vtj.audit.codec` turns them into the stored record bodies (with the
subject encrypted) and back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# The operation of every record written before operations were recorded.
PERSON_OPERATION = "HenkilonTunnusKysely"


@dataclass(frozen=True, slots=True)
class Intent:
    """Written before the query leaves; durable when :meth:`AuditStore.append_intent` returns."""

    caller: str
    end_user: str
    purpose: str
    product: str
    client: str  # X-Road identifiers in slash form
    service: str
    xroad_message_id: str
    subject: str  # the hetu asked for: stored encrypted with a blind index, never in plain text
    request_sha512: str  # base64 SHA-512 of the exact request bytes
    requested_at: datetime  # UTC, tz-aware
    operation: str = PERSON_OPERATION  # the VTJ operation name, e.g. RakennuksenTunnusKysely
    route: str = "xroad"  # xroad | direct
    subject_kind: str = "hetu"  # hetu | satu | building | property | criteria


@dataclass(frozen=True, slots=True)
class Outcome:
    """Written after the answer (or the failure) is known."""

    # found | not_found | passivated | deceased | not_disclosed | upstream_fault | ... | outcome_unknown
    outcome: str
    completed_at: datetime
    latency_seconds: float
    http_status: int
    error_code: str | None
    return_code: str | None
    fault_code: str | None
    fault_detail: str | None
    fault_family: str | None
    received_request_hash: str | None
    data_categories: tuple[str, ...]
    # a passivated answer's new active hetu: stored encrypted with its own blind index, so that a search by
    # the new hetu finds the query whose data came back under it
    new_subject: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A query refused before anything was sent (bad input, policy, overload, ...)."""

    caller: str | None
    end_user: str | None
    purpose: str | None
    product: str | None
    subject: str | None  # whatever hetu text the caller sent; personal data even when invalid: encrypted
    reason: str  # the problem code, e.g. invalid_hetu, product_not_allowed, quota_exceeded
    requested_at: datetime
    operation: str = PERSON_OPERATION
    route: str = "xroad"
    subject_kind: str | None = "hetu"
