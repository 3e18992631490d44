"""The query pipeline, independent of HTTP: one pipeline for every VTJ operation and both routes.

validate (api.validation) → authorize → audit intent → build → send → verify → read → audit outcome → answer.

What differs per operation is data: the request fields and the audit subject travel in :class:`VtjQuery`, and
the answer is read by one small function per kind of answer (:data:`READERS`). What differs per route is one
pair of functions: X-Road builds an envelope with headers and verifies requestHash and the echoed headers;
the direct route (DVV's SoSo service over HTTPS) builds the flat SOAP 1.1 form and has no header to verify.

The intent is durable before a byte leaves; an answer is only given once the response was verified and its
outcome recorded. After sending, every failure (even an unexpected one) records an outcome. Every error is one
of :mod:`xroad_vtj.errors`. Log lines carry codes and ids, never a subject or criteria.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from xroad_vtj.audit.records import Intent, Outcome, Refusal
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.config import CallerConfig, Config
from xroad_vtj.errors import (
    AuditUnavailable,
    InvalidUpstreamResponse,
    NonUniqueSearchNotAllowed,
    OutcomeUnknown,
    ProductNotAllowed,
    UpstreamFault,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    XRoadVtjError,
)
from xroad_vtj.fault_texts import FaultTexts
from xroad_vtj.logging import get_logger
from xroad_vtj.metrics import Metrics
from xroad_vtj.policy import Policy, permitted_product
from xroad_vtj.recordable import recordable_text
from xroad_vtj.refusals import RefusalLog
from xroad_vtj.transport import Reply, Upstream, deadline_post
from xroad_vtj.vtj import Outcome as VtjOutcome
from xroad_vtj.vtj import VtjResult, parse_henkilon_tunnus_kysely_response
from xroad_vtj.vtj.identifiers import canonical_subject
from xroad_vtj.vtj.operations import (
    BUILDING_QUERY,
    BUILDING_SEARCH,
    PERSON_QUERY,
    PERSON_SEARCH,
    PROPERTY_QUERY,
    PROPERTY_SEARCH,
    build_operation_body,
    named_objects,
    parse_generic_response,
    withhold_protected_persons,
)
from xroad_vtj.vtj.relations import person_extras, request_echo, search_criterion
from xroad_vtj.vtj.soso import build_soso_request, parse_soso_response, soap_action
from xroad_vtj.vtj.subject import check_object, check_subject
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

# Operations whose criteria are not unique: only callers whose duties by law allow it may use them.
NON_UNIQUE = frozenset({PERSON_SEARCH, BUILDING_SEARCH, PROPERTY_SEARCH})


@dataclass(frozen=True, slots=True, repr=False)
class VtjQuery:
    """A caller's validated request for one VTJ operation.

    ``subject`` is what the audit records (encrypted, with a blind index) as the query's subject: the
    identifier asked about, or the criteria. ``fields`` are the operation's own request fields in schema
    order. ``end_user`` goes to Loppukayttaja and userId, ``purpose`` to issue.
    """

    operation: str
    subject: str
    subject_kind: str  # hetu | satu | building | property | criteria
    fields: tuple[tuple[str, str], ...]
    product: str
    end_user: str
    purpose: str

    def __repr__(self) -> str:
        return f"VtjQuery({self.operation}, subject_kind={self.subject_kind})"

    @property
    def hetu(self) -> str:
        """The subject under the name the policy's per-subject checks read (any subject kind)."""
        return self.subject

    @classmethod
    def person(
        cls, *, product: str, end_user: str, purpose: str, hetu: str | None = None, satu: str | None = None
    ) -> VtjQuery:
        if hetu is not None:
            return cls(PERSON_QUERY, hetu, "hetu", (("Henkilotunnus", hetu),), product, end_user, purpose)
        if satu is None:
            raise ValueError("a person query needs a hetu or a satu")
        return cls(
            PERSON_QUERY, satu, "satu", (("SahkoinenAsiointitunnus", satu),), product, end_user, purpose
        )

    @classmethod
    def building(
        cls, *, building_id: str, apartment_id: str | None, product: str, end_user: str, purpose: str
    ) -> VtjQuery:
        fields = [("Rakennustunnus", building_id)]
        if apartment_id is not None:
            fields.append(("Huoneistotunnus", apartment_id))
        # The building is the subject, with or without an apartment: "who asked about building X" finds both.
        return cls(BUILDING_QUERY, building_id, "building", tuple(fields), product, end_user, purpose)

    @classmethod
    def property(cls, *, property_id: str, product: str, end_user: str, purpose: str) -> VtjQuery:
        return cls(
            PROPERTY_QUERY,
            property_id,
            "property",
            (("Kiinteistotunnus", property_id),),
            product,
            end_user,
            purpose,
        )

    @classmethod
    def search(
        cls, *, object_: str, criteria_xml: str, product: str, end_user: str, purpose: str
    ) -> VtjQuery:
        operation = {"person": PERSON_SEARCH, "building": BUILDING_SEARCH, "property": PROPERTY_SEARCH}[
            object_
        ]
        return cls(
            operation, criteria_xml, "criteria", (("HakuXml", criteria_xml),), product, end_user, purpose
        )


# The name the person query had before there were other operations (policy and bench use it).
PersonQuery = VtjQuery


@dataclass(frozen=True, slots=True)
class Reading:
    """What one answer came to, before the caller's view of it (redaction) is made."""

    outcome: VtjOutcome
    return_code: str | None
    fault_code: str | None
    data_categories: tuple[str, ...]
    new_subject: str | None = None  # a passivated answer's new active hetu
    person: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    withheld: tuple[str, ...] = ()  # what was removed for turvakielto


Reader = Callable[[etree._Element, VtjQuery, CallerConfig], Reading]


def _check_subject(wrapper: etree._Element, result: VtjResult, query: VtjQuery) -> None:
    """Every outcome that carries a person must be about the one asked (see :mod:`xroad_vtj.vtj.subject`).

    Checked once per answer, here; the rules (a hetu by the person's henkilötunnus, a SATU by its echo) live in
    :func:`check_subject`.
    """
    if query.subject_kind == "satu":
        check_subject(
            result,
            query.subject,
            kind="satu",
            echoed_criterion=search_criterion(wrapper, "SahkoinenAsiointitunnus"),
            echoed_request=request_echo(wrapper, "SahkoinenAsiointitunnus"),
        )
        return
    check_subject(result, query.subject)


def unexpected_failure(*, answered: bool, **ids: Any) -> XRoadVtjError:
    """The error for an exception nobody foresaw after the query was handed to the transport.

    With an answer in hand, failing to read it is ``invalid_upstream_response`` (nothing of it is passed on);
    without one, the query may have been served: ``outcome_unknown``.
    """
    if answered:
        return InvalidUpstreamResponse("the upstream response could not be read", **ids)
    return OutcomeUnknown("the query failed after it was handed to the transport", **ids)


def read_person(wrapper: etree._Element, query: VtjQuery, caller: CallerConfig) -> Reading:
    result = parse_henkilon_tunnus_kysely_response(wrapper)
    person = result.person
    _check_subject(wrapper, result, query)
    person_json: dict[str, Any] | None = None
    if person is not None:
        person_json = person.to_json()
        extras = person_extras(result.other_blocks, query.product)
        person_json.update(extras.relations)
        if extras.extra is not None:
            person_json["extra"] = extras.extra
    return Reading(
        outcome=result.outcome,
        return_code=result.return_code,
        fault_code=result.fault_code,
        data_categories=result.data_categories,
        new_subject=result.new_active_hetu,
        person=person_json,
    )


def _generic_categories(operation: str, data: dict[str, Any] | None) -> tuple[str, ...]:
    if data is None:
        return ()
    return {
        PERSON_SEARCH: ("identity", "other"),
        BUILDING_QUERY: ("building",),
        BUILDING_SEARCH: ("building",),
    }.get(operation, ("property",))


def read_generic(wrapper: etree._Element, query: VtjQuery, caller: CallerConfig) -> Reading:
    withheld: tuple[str, ...] = ()
    # Persons found by criteria come as generic content: a person under turvakielto keeps only who they are.
    # Any other generic answer that carries a Henkilo (e.g. a building's residents) is treated alike.
    if not caller.reveal_protected_addresses and withhold_protected_persons(wrapper):
        withheld = ("protected_person_details",)
    result = parse_generic_response(wrapper, query.operation)
    if query.subject_kind in ("building", "property"):
        check_object(query.subject, *named_objects(wrapper, query.operation))
    return Reading(
        outcome=result.outcome,
        return_code=result.return_code,
        fault_code=result.fault_code,
        data_categories=_generic_categories(query.operation, result.data),
        data=result.data,
        withheld=withheld if result.data is not None else (),
    )


READERS: dict[str, Reader] = {
    PERSON_QUERY: read_person,
    PERSON_SEARCH: read_generic,
    BUILDING_QUERY: read_generic,
    BUILDING_SEARCH: read_generic,
    PROPERTY_QUERY: read_generic,
    PROPERTY_SEARCH: read_generic,
}


@dataclass(frozen=True, slots=True)
class Prepared:
    """One built request: the exact bytes to send, and what the answer must be checked against."""

    sent: bytes
    message_id: str
    service: str  # audited: the X-Road service id, or the direct service's URL
    headers: Headers | None  # X-Road route
    soap_action: str | None  # direct route


class QueryService:
    def __init__(
        self, config: Config, store: AuditStore, transport: Upstream, metrics: Metrics, policy: Policy
    ) -> None:
        self.config = config
        self.store = store
        self.transport = transport
        self.metrics = metrics
        self.policy = policy
        self.route = config.vtj.route
        self.fault_texts = FaultTexts(store.config.data_key_file)
        self.refusals = RefusalLog(store)

    async def refuse(
        self,
        caller: CallerConfig | None,
        raw: dict[str, Any],
        error: XRoadVtjError,
        *,
        operation: str = PERSON_QUERY,
        subject_key: str = "hetu",
        subject_kind: str = "hetu",
    ) -> None:
        """Audit a query refused before anything was sent. A failing store does not change the answer.

        ``subject_key`` names the body field that holds the subject (``hetu``, ``satu``, ``building_id``, …).
        The product is recorded in its configured spelling when the caller's permit holds it, as sent when it
        does not, and as the default product that would have been used when the caller named none.
        """
        self.metrics.policy_refusals.labels(reason=error.code).inc()
        if caller is not None and error.code == "quota_exceeded":
            self.metrics.count_quota_refusal(caller.name, error.extra.get("quota"))

        def text(key: str, limit: int = 256) -> str | None:
            value = raw.get(key)
            return recordable_text(value, limit) if isinstance(value, str) else None

        product = text("product") or self.config.vtj.default_product
        if caller is not None:
            product = permitted_product(caller, product) or product
        # A valid identifier is recorded as the pipeline would have sent it, so one search finds both.
        subject = text(subject_key, 8192)
        if subject is not None:
            subject = canonical_subject(subject)
        refusal = Refusal(
            caller=caller.name if caller else None,
            end_user=text("end_user"),
            purpose=text("purpose"),
            product=product,
            subject=subject,
            reason=error.code,
            requested_at=datetime.now(UTC),
            operation=operation,
            route=self.route,
            subject_kind=subject_kind,
        )
        try:
            await self.refusals.record(refusal)
        except AuditUnavailable:
            log.warning("refusal_not_audited", reason=error.code)

    async def run(self, caller: CallerConfig, query: VtjQuery) -> dict[str, Any]:
        """Authorize, audit the intent, send, verify, read, audit the outcome and answer, for any operation."""
        # The query counts towards the quotas from its check on; it is given back if its intent cannot be
        # written (see Policy.admission).
        async with self.policy.admission(caller, query.end_user) as admission:
            query = self._authorize_permit(caller, query)
            await self.policy.authorize_query(caller, query, admission)
            prepared = self._build(query)
            audit_id = await self._record_intent(caller, query, prepared)
        return await self._exchange(caller, query, prepared, audit_id)

    @staticmethod
    def _authorize_permit(caller: CallerConfig, query: VtjQuery) -> VtjQuery:
        if query.operation in NON_UNIQUE and not caller.non_unique_search:
            raise NonUniqueSearchNotAllowed("searches by non-unique criteria are not enabled for this caller")
        product = permitted_product(caller, query.product)
        if product is None:
            raise ProductNotAllowed("the caller's data permit does not cover this product")
        # From here on the product is the permit's spelling: sent to VTJ, audited and answered alike. (Usually it
        # is already, and dataclasses.replace costs a few µs.)
        return query if product == query.product else replace(query, product=product)

    # --- build ------------------------------------------------------------------------------------------------

    def _build(self, query: VtjQuery) -> Prepared:
        cfg = self.config
        vtj = cfg.vtj
        if self.route == "direct" and vtj.direct is not None:
            sent = build_soso_request(
                query.operation,
                product=query.product,
                username=vtj.username,
                password=vtj.password,
                end_user=query.end_user,
                fields=query.fields,
            )
            # No X-Road id on this route: our own UUID names the query towards DVV's log and ours.
            return Prepared(sent, str(uuid.uuid4()), vtj.direct.url, None, soap_action(query.operation))
        service = vtj.service_for(query.operation)
        headers = Headers(
            client=cfg.xroad.client,
            service=service,
            id=new_message_id(),
            user_id=query.end_user,
            issue=query.purpose,
        )
        body = build_operation_body(
            query.operation,
            product=query.product,
            username=vtj.username,
            password=vtj.password,
            end_user=query.end_user,
            fields=query.fields,
        )
        return Prepared(build_request(headers, body), headers.id, str(service), headers, None)

    async def _record_intent(self, caller: CallerConfig, query: VtjQuery, prepared: Prepared) -> str:
        pending_intent = self.store.append_intent(
            Intent(
                caller=caller.name,
                end_user=query.end_user,
                purpose=query.purpose,
                product=query.product,
                client=str(self.config.xroad.client),
                service=prepared.service,
                xroad_message_id=prepared.message_id,
                subject=query.subject,
                request_sha512=request_hash(prepared.sent),
                requested_at=datetime.now(UTC),
                operation=query.operation,
                route=self.route,
                subject_kind=query.subject_kind,
            )
        )
        try:
            return await pending_intent
        except AuditUnavailable as exc:
            exc.detail = "the audit store cannot record the query, so nothing was sent"
            exc.extra["query_sent"] = False
            raise

    # --- send, verify, read -------------------------------------------------------------------------------------

    def _ids(self, prepared: Prepared, audit_id: str) -> dict[str, Any]:
        # On the X-Road route message_id is the X-Road id; the direct route has none (null in the answer).
        return {
            "message_id": prepared.message_id,
            "xroad_message_id": prepared.message_id if prepared.headers is not None else None,
            "audit_id": audit_id,
        }

    async def _exchange(
        self, caller: CallerConfig, query: VtjQuery, prepared: Prepared, audit_id: str
    ) -> dict[str, Any]:
        ids = self._ids(prepared, audit_id)
        started = time.perf_counter()
        received_hash: str | None = None
        reply: Reply | None = None
        operation = query.operation
        try:
            try:
                reply = await self._send(prepared)
                max_bytes = self.config.xroad.max_response_bytes
                if prepared.headers is None:
                    wrapper = parse_soso_response(
                        reply.body, reply.content_type, operation, max_bytes=max_bytes
                    )
                else:
                    message = parse_message(reply.body, reply.content_type, max_bytes=max_bytes)
                    received_hash = message.request_hash  # kept even when it does not match
                    wrapper = verify_response(message, prepared.sent, prepared.headers)
                reading = READERS[operation](wrapper, query, caller)
            except (UnicodeError, LookupError):
                # A charset or boundary the codecs cannot handle: an unreadable answer, not a crash.
                raise InvalidUpstreamResponse("the answer cannot be decoded") from None
            except InvalidUpstreamResponse:
                # SOAP answers come with 200, and faults with 500: any other status with a body that is not
                # SOAP (a proxy's or web server's error page, a wrong URL path) is named by its status
                if reply is not None and reply.status not in (200, 500):
                    raise InvalidUpstreamResponse(
                        f"HTTP {reply.status} without a SOAP answer", problem=f"http status {reply.status}"
                    ) from None
                raise
        except XRoadVtjError as error:
            error.extra.update({k: v for k, v in ids.items() if v is not None})
            await self._record_failure(
                audit_id, operation, error, time.perf_counter() - started, received_hash
            )
            raise
        except asyncio.CancelledError:
            # Cut off while out (shutdown grace over): record what we know before the process goes away.
            cut_off = OutcomeUnknown("the query was cut off before its answer was verified", **ids)
            with contextlib.suppress(AuditUnavailable):
                await self._record_failure(
                    audit_id, operation, cut_off, time.perf_counter() - started, received_hash
                )
            raise
        except Exception as exc:
            # Nothing foreseen, but the query left: it still gets an outcome (see unexpected_failure).
            log.error("upstream_unexpected_error", error_type=type(exc).__name__, audit_id=audit_id)
            failure = unexpected_failure(
                answered=reply is not None, **{k: v for k, v in ids.items() if v is not None}
            )
            await self._record_failure(
                audit_id, operation, failure, time.perf_counter() - started, received_hash
            )
            raise failure from exc
        latency = time.perf_counter() - started
        self.metrics.upstream_duration.observe(latency)
        self.metrics.child(self.metrics.upstream_requests, reading.outcome.value, "none", operation).inc()
        self.metrics.count_return_code(reading.return_code)
        rejected = reading.outcome is VtjOutcome.UPSTREAM_REJECTED
        return_code = reading.return_code or reading.fault_code
        await self._append_outcome(
            audit_id,
            Outcome(
                outcome=reading.outcome.value,
                completed_at=datetime.now(UTC),
                latency_seconds=latency,
                http_status=502 if rejected else 200,
                error_code=UpstreamRejected.code if rejected else None,
                return_code=reading.return_code,
                fault_code=self.fault_texts.loggable(reading.fault_code),
                fault_detail=None,
                fault_family=None,
                received_request_hash=received_hash,
                data_categories=reading.data_categories,
                new_subject=reading.new_subject,
            ),
            ids,
        )
        if rejected:
            raise UpstreamRejected(
                "VTJ refused the query",
                return_code=return_code,
                **{k: v for k, v in ids.items() if v is not None},
            )
        answer: dict[str, Any] = {
            "outcome": reading.outcome.value,
            # Not found usually arrives as a body faultCode (0001), not as a Paluukoodi.
            "return_code": return_code,
            **ids,
            "product": query.product,
        }
        redacted = list(reading.withheld)
        if operation == PERSON_QUERY:
            person, person_redacted = self._redact(caller, reading.person, query.product)
            redacted.extend(person_redacted)
            answer["person"] = person
            if reading.new_subject is not None:
                answer["new_active_hetu"] = reading.new_subject
        else:
            answer["data"] = reading.data
        if redacted:
            answer["redacted"] = redacted
        return answer

    def _redact(
        self, caller: CallerConfig, person: dict[str, Any] | None, product: str
    ) -> tuple[dict[str, Any] | None, list[str]]:
        person, redacted = self.policy.redact(caller, person, product)
        if (
            person is not None
            and person.get("non_disclosure") is True
            and not caller.reveal_protected_addresses
            and "extra" in person
        ):
            # Blocks no typed field maps may hold contact data: withheld whole under turvakielto.
            person = dict(person)
            del person["extra"]
            redacted = [*redacted, "extra"]
            person["redacted"] = redacted
        return person, redacted

    async def _send(self, prepared: Prepared) -> Reply:
        timeout = self.config.xroad.timeout_seconds
        deadline = time.monotonic() + timeout
        action = prepared.soap_action
        try:
            return await deadline_post(self.transport, prepared.sent, timeout, soap_action=action)
        except UpstreamUnavailable:
            # Provably not sent: the only case where one more try is safe.
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            log.info("upstream_retry", reason="connect_failed")
            return await deadline_post(self.transport, prepared.sent, remaining, soap_action=action)

    async def _record_failure(
        self, audit_id: str, operation: str, error: XRoadVtjError, latency: float, received_hash: str | None
    ) -> None:
        family = error.extra.get("fault_family")
        outcome = "outcome_unknown" if isinstance(error, _MAYBE_SERVED) else error.code
        self.metrics.upstream_requests.labels(
            outcome=outcome, fault_family=family or "none", operation=operation
        ).inc()
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
            operation=operation,
            fault_code=fault_code,
            fault_detail=fault_detail,
            message_id=error.extra.get("message_id"),
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
            {k: error.extra.get(k) for k in ("message_id", "xroad_message_id")} | {"audit_id": audit_id},
        )

    async def _append_outcome(self, audit_id: str, outcome: Outcome, ids: dict[str, Any]) -> None:
        try:
            await self.store.append_outcome(audit_id, outcome)
        except AuditUnavailable as exc:
            # Without a recorded outcome no data may leave; the intent stays and becomes outcome_unknown. The
            # query did reach the upstream: the caller must not take this for "safe to retry".
            exc.detail = (
                "the query was sent, but its answer is withheld because its outcome cannot be audited"
            )
            exc.extra.update({k: v for k, v in ids.items() if v is not None}, query_sent=True)
            raise
