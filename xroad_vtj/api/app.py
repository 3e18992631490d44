"""The aiohttp application: middlewares (request id, metrics, problem+json), handlers and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from xroad_vtj.api.problems import http_exception_problem, json_dumps, problem_response
from xroad_vtj.api.validation import (
    decode_json_object,
    loose_json_object,
    search_texts,
    validate_building_query,
    validate_identification_search,
    validate_person_query,
    validate_property_query,
)
from xroad_vtj.audit.chain import parse_when
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.audit.sweep import sweep_dead_queries
from xroad_vtj.config import CallerConfig, Config
from xroad_vtj.errors import (
    AuditUnavailable,
    InvalidRequest,
    Overloaded,
    RequestTooLarge,
    ShuttingDown,
    Unauthenticated,
    XRoadVtjError,
)
from xroad_vtj.logging import get_logger
from xroad_vtj.metrics import Metrics
from xroad_vtj.policy import PeerCertificate, Policy
from xroad_vtj.product_schemas import ProductSchemas
from xroad_vtj.query import QueryService, VtjQuery
from xroad_vtj.route_probe import RouteProbe
from xroad_vtj.transport import Transport
from xroad_vtj.vtj.identifiers import canonical_subject
from xroad_vtj.vtj.operations import (
    BUILDING_QUERY,
    BUILDING_SEARCH,
    PERSON_QUERY,
    PERSON_SEARCH,
    PROPERTY_QUERY,
    PROPERTY_SEARCH,
)

log = get_logger("xroad_vtj.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Request ids correlate log lines; they are neither secrets nor capabilities, so they come from a generator seeded
# once from the OS (32 hex digits, as uuid4().hex) instead of a getrandom system call per request.
_REQUEST_IDS = random.Random()


@dataclass
class ServiceState:
    """Mutable run-time state shared by the handlers of one process."""

    shutting_down: bool = False
    in_flight: int = 0
    idle: asyncio.Event | None = None

    def drained(self) -> asyncio.Event:
        if self.idle is None:
            self.idle = asyncio.Event()
            if self.in_flight == 0:
                self.idle.set()
        return self.idle


CONFIG: web.AppKey[Config] = web.AppKey("config", Config)
STORE: web.AppKey[AuditStore] = web.AppKey("store", AuditStore)
TRANSPORT: web.AppKey[Transport] = web.AppKey("transport", Transport)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
ROUTE_PROBE: web.AppKey[RouteProbe] = web.AppKey("route_probe", RouteProbe)
POLICY: web.AppKey[Policy] = web.AppKey("policy", Policy)
QUERIES: web.AppKey[QueryService] = web.AppKey("queries", QueryService)
STATE: web.AppKey[ServiceState] = web.AppKey("state", ServiceState)
SCHEMAS: web.AppKey[ProductSchemas] = web.AppKey("schemas", ProductSchemas)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json_dumps(body), content_type="application/json")


# --- middlewares ----------------------------------------------------------------------------------------------


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, structured log context and HTTP metrics; errors become problem+json here."""
    structlog.contextvars.clear_contextvars()
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else f"{_REQUEST_IDS.getrandbits(128):032x}"
    structlog.contextvars.bind_contextvars(request_id=request_id)
    metrics = request.app[METRICS]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    started = time.perf_counter()
    try:
        response = await handler(request)
    except XRoadVtjError as error:
        response = problem_response(error)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="xroad-vtj"'
    except web.HTTPException as exc:
        response = http_exception_problem(exc)
    except Exception as exc:
        log.error("unhandled_error", error_type=type(exc).__name__)
        response = problem_response(XRoadVtjError())
    elapsed = time.perf_counter() - started
    response.headers["X-Request-Id"] = request_id
    status_class = f"{response.status // 100}xx"
    metrics.child(metrics.http_requests, route, request.method, status_class).inc()
    metrics.child(metrics.http_duration, route).observe(elapsed)
    log.info(
        "http_request", method=request.method, route=route, status=response.status, seconds=round(elapsed, 4)
    )
    return response


# --- helpers -----------------------------------------------------------------------------------------------------


def peer_certificate(request: web.Request) -> PeerCertificate | None:
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return PeerCertificate.from_der(der) if der else None


def authenticate(request: web.Request, role: str) -> CallerConfig:
    policy = request.app[POLICY]
    caller = policy.authenticate(request.headers.get("Authorization"), peer_certificate(request))
    policy.require_role(caller, role)
    structlog.contextvars.bind_contextvars(caller=caller.name)
    return caller


async def read_body(request: web.Request) -> bytes:
    config = request.app[CONFIG]
    try:
        if request.content.is_eof():
            # The whole body has arrived with the headers (the usual small query): reading cannot wait, so no
            # deadline timer is armed and cancelled for it. The size limit is checked by read() all the same.
            return await request.read()
        async with asyncio.timeout(config.server.client_timeout_seconds):
            return await request.read()
    except TimeoutError:
        raise InvalidRequest("request body not received in time") from None
    except web.HTTPRequestEntityTooLarge:
        raise RequestTooLarge(f"body over {config.server.max_body_bytes} bytes") from None


# --- handlers ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryEndpoint:
    """What differs between the query endpoints: how the body is validated and what a refusal records."""

    # (body, default product, the caller's end_user_pattern): every operation checks its end user the same way.
    validate: Callable[[dict[str, Any], str, re.Pattern[str] | None], VtjQuery]
    refusal: Callable[[dict[str, Any]], tuple[str, str, str]]  # operation, subject key, kind


def _person_refusal(raw: dict[str, Any]) -> tuple[str, str, str]:
    if "satu" in raw and "hetu" not in raw:
        return PERSON_QUERY, "satu", "satu"
    return PERSON_QUERY, "hetu", "hetu"


def _search_refusal(raw: dict[str, Any]) -> tuple[str, str, str]:
    operation = {"building": BUILDING_SEARCH, "property": PROPERTY_SEARCH}.get(
        str(raw.get("object")), PERSON_SEARCH
    )
    return operation, "criteria_xml", "criteria"


PERSON_ENDPOINT = QueryEndpoint(validate_person_query, _person_refusal)
BUILDING_ENDPOINT = QueryEndpoint(
    validate_building_query, lambda raw: (BUILDING_QUERY, "building_id", "building")
)
PROPERTY_ENDPOINT = QueryEndpoint(
    validate_property_query, lambda raw: (PROPERTY_QUERY, "property_id", "property")
)
SEARCH_ENDPOINT = QueryEndpoint(validate_identification_search, _search_refusal)


async def _query(request: web.Request, endpoint: QueryEndpoint) -> web.Response:
    """Every query endpoint: authenticate, read, admit, validate, run the pipeline, answer."""
    state = request.app[STATE]
    config = request.app[CONFIG]
    if state.shutting_down:
        raise ShuttingDown()
    metrics = request.app[METRICS]
    policy = request.app[POLICY]
    try:
        caller = policy.authenticate(request.headers.get("Authorization"), peer_certificate(request))
    except Unauthenticated as error:
        # Counted but not audited: an anonymous client must not be able to write into the audit trail.
        metrics.policy_refusals.labels(reason=error.code).inc()
        raise
    structlog.contextvars.bind_contextvars(caller=caller.name)
    service = request.app[QUERIES]
    raw: dict[str, Any] = {}
    data = b""

    async def refused(error: XRoadVtjError) -> None:
        seen = raw or loose_json_object(data)
        operation, subject_key, kind = endpoint.refusal(seen)
        if error.status in (400, 403, 413, 429):
            # Audited with whatever the caller sent, even when the body was refused before it was read.
            await service.refuse(
                caller, seen, error, operation=operation, subject_key=subject_key, subject_kind=kind
            )
        metrics.queries.labels(outcome=error.code, operation=operation).inc()

    try:
        # Read (bounded) before taking a slot: callers still sending their body hold no query slot.
        data = await read_body(request)
        policy.require_role(caller, "query")
    except XRoadVtjError as error:
        await refused(error)
        raise
    if state.in_flight >= config.server.max_in_flight:
        raise Overloaded("too many queries in flight; try again shortly", retry_after=1)
    state.in_flight += 1
    metrics.in_flight.inc()
    state.drained().clear()
    try:
        try:
            raw = decode_json_object(data)
            query = endpoint.validate(raw, config.vtj.default_product, caller.end_user_pattern)
            answer = await service.run(caller, query)
        except XRoadVtjError as error:
            await refused(error)
            raise
        metrics.child(metrics.queries, answer["outcome"], query.operation).inc()
        return json_response(answer)
    finally:
        state.in_flight -= 1
        metrics.in_flight.dec()
        if state.in_flight == 0:
            state.drained().set()


async def person_queries(request: web.Request) -> web.Response:
    return await _query(request, PERSON_ENDPOINT)


async def building_queries(request: web.Request) -> web.Response:
    return await _query(request, BUILDING_ENDPOINT)


async def property_queries(request: web.Request) -> web.Response:
    return await _query(request, PROPERTY_ENDPOINT)


async def identification_searches(request: web.Request) -> web.Response:
    return await _query(request, SEARCH_ENDPOINT)


async def product_schema(request: web.Request) -> web.Response:
    """The schema of a product in the caller's permit, as VTJ gives it (cached); not an audited query."""
    caller = authenticate(request, "query")
    kind_text = request.query.get("kind", "1")
    if (
        set(request.query) - {"kind"}
        or not kind_text.isascii()
        or not kind_text.isdigit()
        or len(kind_text) > 4
    ):
        raise InvalidRequest("kind must be a small non-negative integer", field="kind")
    document = await request.app[SCHEMAS].schema(caller, request.match_info["product"], int(kind_text))
    return web.Response(body=document, content_type="application/xml", charset="utf-8")


AUDIT_FILTERS = ("xroad_id", "end_user", "caller", "subject", "from", "to", "limit")


def _when(params: Mapping[str, Any], key: str) -> datetime | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        return parse_when(str(value))
    except ValueError:
        raise InvalidRequest(f"{key} must be an ISO 8601 date or time", field=key) from None


async def _search(request: web.Request, params: Mapping[str, Any]) -> web.Response:
    if set(params) - set(AUDIT_FILTERS):
        raise InvalidRequest(f"allowed filters: {', '.join(AUDIT_FILTERS)}")
    texts = search_texts(params)
    try:
        limit = int(params.get("limit", 1000))
    except (TypeError, ValueError):
        raise InvalidRequest("limit must be a number", field="limit") from None
    if not 1 <= limit <= 10000:
        raise InvalidRequest("limit must be 1-10000", field="limit")
    rows = await request.app[STORE].search(
        xroad_id=texts["xroad_id"],
        end_user=texts["end_user"],
        caller=texts["caller"],
        subject=canonical_subject(texts["subject"]) if texts["subject"] else None,
        since=_when(params, "from"),
        until=_when(params, "to"),
        limit=limit,
    )
    return json_response({"records": rows, "count": len(rows)})


async def audit_records(request: web.Request) -> web.Response:
    authenticate(request, "auditor")
    return await _search(request, request.query)


async def audit_search(request: web.Request) -> web.Response:
    """The same search with the filters in a JSON body, so that a hetu never travels in a URL."""
    authenticate(request, "auditor")
    return await _search(request, decode_json_object(await read_body(request)))


async def audit_verify(request: web.Request) -> web.Response:
    authenticate(request, "auditor")
    report = await request.app[STORE].verify()
    body = {
        "ok": report.ok,
        "summary": report.summary(),
        "records": report.records,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "head_hash": report.head_hash.hex(),
        "checkpoints": report.checkpoints,
        "problem": report.problem,
        "bad_seq": report.bad_seq,
    }
    return json_response(body, status=200 if report.ok else 409)


async def diagnostics(request: web.Request) -> web.Response:
    authenticate(request, "operator")
    config = request.app[CONFIG]
    transport = request.app[TRANSPORT]
    state = request.app[STATE]
    not_after = transport.client_cert_not_after
    return json_response(
        {
            "instance_id": config.instance_id,
            "client": str(config.xroad.client),
            "service": str(config.vtj.service),
            "route": config.vtj.route,
            "security_server_url": config.xroad.security_server_url,
            "audit_backend": config.audit.backend,
            "in_flight": state.in_flight,
            "max_in_flight": config.server.max_in_flight,
            "client_certificate_not_after": not_after.isoformat() if not_after else None,
            "shutting_down": state.shutting_down,
            "route_probe": request.app[ROUTE_PROBE].snapshot(),
        }
    )


async def livez(_: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    state = request.app[STATE]
    checks["shutdown"] = "shutting_down" if state.shutting_down else "ok"
    try:
        async with asyncio.timeout(2):
            await request.app[STORE].ping()
        checks["audit_store"] = "ok"
    except (AuditUnavailable, TimeoutError):
        checks["audit_store"] = "unavailable"
    checks["client_certificate"] = "expired" if request.app[TRANSPORT].client_cert_expired else "ok"
    ready = all(v == "ok" for v in checks.values())
    return json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503
    )


# --- factory -----------------------------------------------------------------------------------------------------


SWEEP_SLACK_SECONDS = 2.0


def create_app(config: Config, store: AuditStore, transport: Transport, metrics: Metrics) -> web.Application:
    app = web.Application(middlewares=[context_middleware], client_max_size=config.server.max_body_bytes)
    policy = Policy(config.callers, store)
    app[CONFIG] = config
    app[STORE] = store
    app[TRANSPORT] = transport
    app[METRICS] = metrics
    app[POLICY] = policy
    app[QUERIES] = QueryService(config, store, transport, metrics, policy)
    app[STATE] = ServiceState()
    app[SCHEMAS] = ProductSchemas(config, transport)
    if transport.client_cert_not_after is not None:
        metrics.client_cert_expiry.set(transport.client_cert_not_after.timestamp())
    route_probe = app[ROUTE_PROBE] = RouteProbe(config, transport, metrics)
    if not route_probe.enabled:
        metrics.drop_route_metrics()

    async def lifecycle(app: web.Application) -> Any:
        await store.open()
        started = datetime.now(UTC)
        await transport.start()
        # in the background: readiness does not wait for the read of the day's open intents
        settle = config.xroad.timeout_seconds + config.server.shutdown_grace_seconds + SWEEP_SLACK_SECONDS
        sweep = asyncio.create_task(sweep_dead_queries(store, started, settle), name="audit-sweep")
        route_probe.start()
        yield
        await route_probe.stop()
        sweep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweep
        await transport.close()
        await app[QUERIES].refusals.close()  # refusals counted past the per-minute budget
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/v1/person-queries", person_queries)
    app.router.add_post("/v1/building-queries", building_queries)
    app.router.add_post("/v1/property-queries", property_queries)
    app.router.add_post("/v1/identification-searches", identification_searches)
    app.router.add_get("/v1/products/{product}/schema", product_schema)
    app.router.add_get("/v1/audit/records", audit_records)
    app.router.add_post("/v1/audit/search", audit_search)
    app.router.add_get("/v1/audit/verify", audit_verify)
    app.router.add_get("/v1/diagnostics", diagnostics)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    return app
