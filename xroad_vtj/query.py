"""The person query pipeline, independent of HTTP.

validate → authorize → audit intent → build → send → verify → parse → audit outcome → answer.

The intent is durable before a byte leaves; an answer is only given once the response was verified (requestHash,
echoed headers) and its outcome recorded. Every error is one of :mod:`xroad_vtj.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xroad_vtj.audit.records import Intent, Outcome, Refusal
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.config import CallerConfig, Config
from xroad_vtj.errors import (
    AuditUnavailable,
    InvalidUpstreamResponse,
    OutcomeUnknown,
    UpstreamFault,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    XRoadVtjError,
)
from xroad_vtj.fault_texts import FaultTexts
from xroad_vtj.logging import get_logger
from xroad_vtj.metrics import Metrics
from xroad_vtj.policy import Policy
from xroad_vtj.recordable import recordable_text
from xroad_vtj.refusals import RefusalLog
from xroad_vtj.transport import Transport, deadline_post
from xroad_vtj.vtj import Outcome as VtjOutcome
from xroad_vtj.vtj import (
    VtjResult,
    build_henkilon_tunnus_kysely,
    parse_henkilon_tunnus_kysely_response,
)
from xroad_vtj.vtj.subject import check_subject
from xroad_vtj.xroad import (
    Headers,
    build_request,
    new_message_id,
    parse_message,
    request_hash,
    verify_response,
)

log = get_logger("xroad_vtj.query")

# Errors after which the query may have been served: audited as outcome_unknown.
_MAYBE_SERVED = (UpstreamTimeout, OutcomeUnknown)


@dataclass(frozen=True, slots=True)
class PersonQuery:
    """A caller's validated request. ``end_user`` goes to Loppukayttaja and userId, ``purpose`` to issue."""

    hetu: str
    product: str
    end_user: str
    purpose: str


def _check_subject(result: VtjResult, query: PersonQuery) -> None:
    """Every outcome that carries a person must be about the one asked (see :mod:`xroad_vtj.vtj.subject`)."""
    check_subject(result, query.hetu)


def unexpected_failure(*, answered: bool, **ids: Any) -> XRoadVtjError:
    """The error for an exception nobody foresaw after the query was handed to the transport.

    With an answer in hand, failing to read it is ``invalid_upstream_response`` (nothing of it is passed on);
    without one, the query may have been served: ``outcome_unknown``.
    """
    if answered:
        return InvalidUpstreamResponse("the upstream response could not be read", **ids)
    return OutcomeUnknown("the query failed after it was handed to the transport", **ids)


class QueryService:
    def __init__(
        self, config: Config, store: AuditStore, transport: Transport, metrics: Metrics, policy: Policy
    ) -> None:
        self.config = config
        self.store = store
        self.transport = transport
        self.metrics = metrics
        self.policy = policy
        self.fault_texts = FaultTexts(store.config.data_key_file)
        self.refusals = RefusalLog(store)

    async def refuse(self, caller: CallerConfig | None, raw: dict[str, Any], error: XRoadVtjError) -> None:
        """Audit a query refused before anything was sent. A failing store does not change the answer."""
        self.metrics.policy_refusals.labels(reason=error.code).inc()
        if caller is not None and error.code == "quota_exceeded":
            self.metrics.count_quota_refusal(caller.name, error.extra.get("quota"))

        def text(key: str) -> str | None:
            value = raw.get(key)
            return recordable_text(value, 256) if isinstance(value, str) else None

        refusal = Refusal(
            caller=caller.name if caller else None,
            end_user=text("end_user"),
            purpose=text("purpose"),
            product=text("product"),
            subject=text("hetu"),
            reason=error.code,
            requested_at=datetime.now(UTC),
        )
        try:
            await self.refusals.record(refusal)
        except AuditUnavailable:
            log.warning("refusal_not_audited", reason=error.code)

    async def person_query(self, caller: CallerConfig, query: PersonQuery) -> dict[str, Any]:
        # The hetu was validated with the request (api.validation) and is checked again by the request builder,
        # before the intent is written. The quota check and the intent that counts towards the quota happen
        # under one per-end-user lock, so that simultaneous queries of one end user cannot all pass a limit.
        async with self.policy.admission(caller, query.end_user):
            await self.policy.authorize_query(caller, query)
            sent, headers, audit_id = await self._record_intent(caller, query)
        return await self._exchange(caller, query, sent, headers, audit_id)

    async def _record_intent(self, caller: CallerConfig, query: PersonQuery) -> tuple[bytes, Headers, str]:
        cfg = self.config
        message_id = new_message_id()
        headers = Headers(
            client=cfg.xroad.client,
            service=cfg.vtj.service,
            id=message_id,
            user_id=query.end_user,
            issue=query.purpose,
        )
        sent = build_request(
            headers,
            build_henkilon_tunnus_kysely(
                product=query.product,
                username=cfg.vtj.username,
                password=cfg.vtj.password,
                end_user=query.end_user,
                hetu=query.hetu,
            ),
        )
        requested_at = datetime.now(UTC)
        pending_intent = self.store.append_intent(
            Intent(
                caller=caller.name,
                end_user=query.end_user,
                purpose=query.purpose,
                product=query.product,
                client=str(cfg.xroad.client),
                service=str(cfg.vtj.service),
                xroad_message_id=message_id,
                subject=query.hetu,
                request_sha512=request_hash(sent),
                requested_at=requested_at,
            )
        )
        try:
            audit_id = await pending_intent
        except AuditUnavailable as exc:
            exc.detail = "the audit store cannot record the query, so nothing was sent"
            exc.extra["query_sent"] = False
            raise
        return sent, headers, audit_id

    async def _exchange(
        self, caller: CallerConfig, query: PersonQuery, sent: bytes, headers: Headers, audit_id: str
    ) -> dict[str, Any]:
        cfg = self.config
        ids = {"xroad_message_id": headers.id, "audit_id": audit_id}
        started = time.perf_counter()
        received_hash: str | None = None
        reply: Any = None
        try:
            reply = await self._send(sent)
            message = parse_message(reply.body, reply.content_type, max_bytes=cfg.xroad.max_response_bytes)
            received_hash = message.request_hash
            wrapper = verify_response(message, sent, headers)
            result = parse_henkilon_tunnus_kysely_response(wrapper)
            _check_subject(result, query)
        except XRoadVtjError as error:
            latency = time.perf_counter() - started
            error.extra.update(ids)
            await self._record_failure(audit_id, error, latency, received_hash)
            raise
        except asyncio.CancelledError:
            # Cut off while out (shutdown grace over): record what we know before the process goes away.
            cut_off = OutcomeUnknown("the query was cut off before its answer was verified", **ids)
            with contextlib.suppress(AuditUnavailable):
                await self._record_failure(audit_id, cut_off, time.perf_counter() - started, received_hash)
            raise
        except Exception as exc:
            # Nothing foreseen, but the query left: it still gets an outcome (see unexpected_failure).
            log.error("upstream_unexpected_error", error_type=type(exc).__name__, audit_id=audit_id)
            failure = unexpected_failure(answered=reply is not None, **ids)
            await self._record_failure(audit_id, failure, time.perf_counter() - started, received_hash)
            raise failure from exc
        latency = time.perf_counter() - started
        self.metrics.upstream_duration.observe(latency)
        self.metrics.upstream_requests.labels(outcome=result.outcome.value, fault_family="none").inc()
        self.metrics.count_return_code(result.return_code)
        rejected = result.outcome is VtjOutcome.UPSTREAM_REJECTED
        await self._append_outcome(
            audit_id,
            Outcome(
                outcome=result.outcome.value,
                completed_at=datetime.now(UTC),
                latency_seconds=latency,
                http_status=502 if rejected else 200,
                error_code=UpstreamRejected.code if rejected else None,
                return_code=result.return_code,
                fault_code=self.fault_texts.loggable(result.fault_code),
                fault_detail=None,
                fault_family=None,
                received_request_hash=received_hash,
                data_categories=result.data_categories,
            ),
            ids,
        )
        if rejected:
            raise UpstreamRejected(
                "VTJ refused the query", return_code=result.return_code or result.fault_code, **ids
            )
        person = result.person.to_json() if result.person is not None else None
        person, redacted = self.policy.redact(caller, person, result.product or query.product)
        answer: dict[str, Any] = {
            "outcome": result.outcome.value,
            # Not found usually arrives as a body faultCode (0001), not as a Paluukoodi.
            "return_code": result.return_code or result.fault_code,
            **ids,
            "product": result.product or query.product,
            "person": person,
        }
        if result.new_active_hetu is not None:
            answer["new_active_hetu"] = result.new_active_hetu
        if redacted:
            answer["redacted"] = redacted
        return answer

    async def _send(self, sent: bytes) -> Any:
        timeout = self.config.xroad.timeout_seconds
        deadline = time.monotonic() + timeout
        try:
            return await deadline_post(self.transport, sent, timeout)
        except UpstreamUnavailable:
            # Provably not sent: the only case where one more try is safe.
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            log.info("upstream_retry", reason="connect_failed")
            return await deadline_post(self.transport, sent, remaining)

    async def _record_failure(
        self, audit_id: str, error: XRoadVtjError, latency: float, received_hash: str | None
    ) -> None:
        family = error.extra.get("fault_family")
        outcome = "outcome_unknown" if isinstance(error, _MAYBE_SERVED) else error.code
        self.metrics.upstream_requests.labels(outcome=outcome, fault_family=family or "none").inc()
        if isinstance(error, UpstreamFault):
            self.metrics.upstream_faults.labels(fault_family=family or "provider_service").inc()
        if not isinstance(error, UpstreamUnavailable):
            self.metrics.upstream_duration.observe(latency)
        fault_code = self.fault_texts.loggable(error.extra.get("fault_code"))
        fault_detail = self.fault_texts.loggable(error.extra.get("fault_detail"))
        log.warning(
            "upstream_failed",
            code=error.code,
            fault_family=family,
            fault_code=fault_code,
            fault_detail=fault_detail,
            xroad_message_id=error.extra.get("xroad_message_id"),
            audit_id=audit_id,
        )
        await self._append_outcome(
            audit_id,
            Outcome(
                outcome=outcome,
                completed_at=datetime.now(UTC),
                latency_seconds=latency,
                http_status=error.status,
                error_code=error.code,
                return_code=error.extra.get("return_code"),
                fault_code=fault_code,
                fault_detail=fault_detail,
                fault_family=family,
                received_request_hash=received_hash,
                data_categories=(),
            ),
            {"xroad_message_id": error.extra.get("xroad_message_id"), "audit_id": audit_id},
        )

    async def _append_outcome(self, audit_id: str, outcome: Outcome, ids: dict[str, Any]) -> None:
        try:
            await self.store.append_outcome(audit_id, outcome)
        except AuditUnavailable as exc:
            # Without a recorded outcome no data may leave; the intent stays and becomes outcome_unknown. The
            # query did reach the security server: the caller must not take this for "safe to retry".
            exc.detail = (
                "the query was sent, but its answer is withheld because its outcome cannot be audited"
            )
            exc.extra.update(ids, query_sent=True)
            raise
