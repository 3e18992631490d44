"""The auditor's view: an aiohttp application over an open audit store, read-only but for its own trail.

Rules this module keeps:

* Every page needs the session (token URL → cookie); without it the answer is 401. Only ``/static/`` (the
  stylesheet and icon, no data) is served without one.
* A subject is never in a URL: search and report are POST forms whose answer is the result page; a report's
  downloads go through an opaque id that lives in the session. Nothing the auditor types is logged.
* Every answer that shows decrypted data (search results, a record, a report, a download) first appends an
  ``audit_access`` event (auditor, page, subject as blind indexes, what was shown). If that append fails the
  data is not shown (fail closed).
* Every answer carries a strict CSP (no script at all, styles only from ``/static/``), ``no-store``,
  ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``. POSTs from another origin are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jinja2
import structlog
from aiohttp import web

from xroad_vtj.audit.chain import utcnow
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.audit.verify import VerifyReport
from xroad_vtj.auditor import aggregates, charts, present, reads
from xroad_vtj.auditor.exports import report_csv, subject_report_xml
from xroad_vtj.auditor.i18n import translator
from xroad_vtj.auditor.session import ReportQuery, Session, Sessions
from xroad_vtj.errors import NotFound, XRoadVtjError
from xroad_vtj.vtj.identifiers import canonical_subject

log = structlog.get_logger("xroad_vtj.auditor")

SEARCH_LIMIT = 500
REPORT_LIMIT = 10_000
OVERVIEW_CACHE_SECONDS = 60
OVERVIEW_WAIT_SECONDS = 5.0
DAY_LIMIT = 200_000  # intents and refusals a day beyond which the overview counts only the first ones
VERIFY_EVERY_SECONDS = 600
FIELD_MAX = 200

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(slots=True)
class Integrity:
    """The newest result of the background ``verify`` (it walks the whole chain: not on every page)."""

    report: VerifyReport | None = None
    error: str | None = None
    checked_at: datetime | None = None
    running: bool = False


@dataclass(slots=True)
class ViewState:
    store: AuditStore
    auditor: str
    lang: str
    sessions: Sessions
    cookie_name: str
    secure_cookie: bool
    integrity: Integrity = field(default_factory=Integrity)
    overview: tuple[float, aggregates.Overview] | None = None
    counting: asyncio.Task[None] | None = None
    events_appended: int = 0
    verify_task: asyncio.Task[None] | None = None


STATE: web.AppKey[ViewState] = web.AppKey("auditor_state", ViewState)
BACKGROUND: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("auditor_background", set)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("xroad_vtj.auditor", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = present.local
    env.filters["seconds"] = present.seconds
    return env


TEMPLATES = _templates()


# --- middlewares -----------------------------------------------------------------------------------------


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as e:  # aiohttp's own 404/405 answers carry the headers too
        e.headers.update(SECURITY_HEADERS)
        raise
    except Exception as e:  # a bug: the type only (a message could hold what the auditor typed)
        log.error("auditor_view_failed", error=type(e).__name__)
        response = web.Response(status=500, text="internal error", content_type="text/plain")
    response.headers.update(SECURITY_HEADERS)
    return response


@web.middleware
async def require_session(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    state = request.app[STATE]
    if request.path.startswith("/static/"):
        return await handler(request)
    token = request.query.get("token")
    if token is not None:
        if request.method != "GET" or not state.sessions.token_matches(token):
            return _page(request, "error.html", status=401, message_key="error.unauthorized")
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(
            state.cookie_name,
            state.sessions.start(),
            httponly=True,
            samesite="Strict",
            secure=state.secure_cookie,
            path="/",
        )
        return response
    if _session(request) is None:
        return _page(request, "error.html", status=401, message_key="error.unauthorized")
    if request.method == "POST" and not _same_origin(request):
        return _page(request, "error.html", status=403, message_key="error.cross_site")
    return await handler(request)


def _session(request: web.Request) -> Session | None:
    state = request.app[STATE]
    return state.sessions.get(request.cookies.get(state.cookie_name))


def _same_origin(request: web.Request) -> bool:
    """A POST must come from one of the view's own pages (the SameSite=Strict cookie already stops most).

    Browsers say where a request comes from in ``Sec-Fetch-Site``. ``Origin`` is the fallback, but under
    ``Referrer-Policy: no-referrer`` a browser sends ``Origin: null`` even for the view's own forms."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return origin in (None, "null") or urlsplit(origin).netloc == request.host


@web.middleware
async def store_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFound:
        return _page(request, "error.html", status=404, message_key="error.not_found")
    except XRoadVtjError as e:
        # e.detail never holds personal data (the store's rule); the auditor needs to know what failed
        log.warning("auditor_view_store_error", code=e.code)
        return _page(request, "error.html", status=503, message_key="error.store", detail=e.detail)


# --- rendering -------------------------------------------------------------------------------------------


def _page(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    state = request.app[STATE]
    label, code = translator(state.lang)
    html = TEMPLATES.get_template(template).render(
        t=label,
        code=code,
        lang=state.lang,
        auditor=state.auditor,
        path=request.path,
        signed_in=_session(request) is not None,
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _form_text(form: Any, name: str, limit: int = FIELD_MAX) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _subject(form: Any) -> str:
    # Identifiers are stored as the service sent them: upper-case check characters, a property in 14 digits.
    return canonical_subject(_form_text(form, "subject", 64).upper())


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime | None
    until: datetime | None
    error: str | None


def _period(form: Any) -> Period:
    try:
        since = present.day_start(_form_text(form, "from", 10))
        until = present.day_end(_form_text(form, "to", 10))
    except ValueError:
        return Period(None, None, "form.invalid_date")
    if since is not None and until is not None and since >= until:
        return Period(since, until, "form.range")
    return Period(since, until, None)


async def _log_access(state: ViewState, page: str, **details: Any) -> None:
    """The audit_access event; raises AuditUnavailable, and then the page must not show the data."""
    await state.store.append_event(reads.ACCESS_EVENT, {"auditor": state.auditor, "page": page, **details})
    state.events_appended += 1


def _indexes(state: ViewState, subject: str) -> list[str] | None:
    return state.store.keyring.blind_indexes(subject) if subject else None


# --- integrity -------------------------------------------------------------------------------------------


async def _verify_now(state: ViewState) -> None:
    state.integrity.running = True
    try:
        report = await state.store.verify()
        state.integrity.report, state.integrity.error = report, None
    except XRoadVtjError as e:
        state.integrity.report, state.integrity.error = None, e.detail
    finally:
        state.integrity.running = False
        state.integrity.checked_at = utcnow()


async def _verify_loop(state: ViewState) -> None:
    while True:
        await _verify_now(state)
        await asyncio.sleep(VERIFY_EVERY_SECONDS)


# --- pages -----------------------------------------------------------------------------------------------


async def overview(request: web.Request) -> web.Response:
    state = request.app[STATE]
    now = utcnow()
    data = await _current_counts(state)
    checkpoint = await reads.newest_checkpoint(state.store)
    access = await reads.access_events(state.store)
    _, code = translator(state.lang)
    return _page(
        request,
        "overview.html",
        data=data,
        chart=charts.daily_bars(data.days, data.outcomes, code) if data else None,
        bar=charts.share_bar,
        peak_caller=max((r.queries + r.refusals for r in data.by_caller), default=0) if data else 0,
        peak_reason=max((n for _, n in data.refusals_by_reason), default=0) if data else 0,
        integrity=state.integrity,
        checkpoint=checkpoint,
        checkpoint_age=(
            present.human_age(present.age(checkpoint.created_at, now), state.lang) if checkpoint else None
        ),
        access=access,
        total=sum(data.totals.values()) if data else 0,
    )


async def _current_counts(state: ViewState) -> aggregates.Overview | None:
    """The overview's counts: fresh from the cache, else recounted in the background.

    A page waits for a recount only when there is nothing to show yet, and then at most
    ``OVERVIEW_WAIT_SECONDS``: on a busy store the page says "counting" and the next load has the numbers."""
    cached = state.overview
    if cached is not None and time.monotonic() - cached[0] <= OVERVIEW_CACHE_SECONDS:
        return cached[1]
    task = state.counting
    if task is None or task.done():
        if task is not None and not task.cancelled() and task.exception() is not None:
            state.counting = None
        task = state.counting = asyncio.create_task(_recount(state), name="auditor-overview")
    if cached is not None:
        return cached[1]  # a little stale; the recount replaces it
    await asyncio.wait({task}, timeout=OVERVIEW_WAIT_SECONDS)
    if task.done():
        task.result()  # a failed recount shows as the store's error
    return state.overview[1] if state.overview is not None else None


async def _recount(state: ViewState) -> None:
    data = await _overview_counts(state.store, utcnow())
    state.overview = (time.monotonic(), data)


async def _overview_counts(store: AuditStore, now: datetime) -> aggregates.Overview:
    """Day by day (Helsinki days), so that memory holds one day's bodies at a time."""
    counts = aggregates.Counts(now)
    day = counts.since
    for _ in range(aggregates.DAYS):
        following = day + timedelta(days=1)  # wall-clock arithmetic: the next local midnight, across DST
        rows = await store.raw_window(since=day, until=following, limit=DAY_LIMIT)
        counts.truncated |= len(rows) >= DAY_LIMIT
        counts.add(rows)
        day = following
    return counts.result()


async def verify_again(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if not state.integrity.running:
        state.integrity.running = True
        task = asyncio.create_task(_verify_now(state))
        request.app[BACKGROUND].add(task)
        task.add_done_callback(request.app[BACKGROUND].discard)
    return web.Response(status=303, headers={"Location": "/"})


async def sign_out(request: web.Request) -> web.Response:
    """Ends the session (and with it every report id); the token URL starts a new one."""
    state = request.app[STATE]
    state.sessions.end(request.cookies.get(state.cookie_name))
    response = _page(request, "error.html", message_key="signed_out")
    response.del_cookie(state.cookie_name, path="/")
    return response


async def search_form(request: web.Request) -> web.Response:
    return _page(request, "search.html", form={}, results=None, error=None, limited=False)


async def search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = await request.post()
    subject = _subject(form)
    fields = {k: _form_text(form, k) for k in ("end_user", "caller", "xroad_id")}
    period = _period(form)
    shown = {**fields, "from": _form_text(form, "from", 10), "to": _form_text(form, "to", 10)}
    if period.error is not None:
        return _page(request, "search.html", form=shown, results=None, error=period.error, limited=False)
    if not (subject or any(fields.values()) or period.since or period.until):
        return _page(
            request, "search.html", form=shown, results=None, error="search.need_filter", limited=False
        )
    rows = await state.store.search(
        xroad_id=fields["xroad_id"] or None,
        end_user=fields["end_user"] or None,
        caller=fields["caller"] or None,
        subject=subject or None,
        since=period.since,
        until=period.until,
        limit=SEARCH_LIMIT + 1,
    )
    limited = len(rows) > SEARCH_LIMIT
    rows = rows[:SEARCH_LIMIT]
    await _log_access(
        state,
        "search",
        subject_indexes=_indexes(state, subject),
        filters={
            **{k: v for k, v in fields.items() if v},
            **({"from": present.local(period.since)} if period.since else {}),
            **({"to": present.local(period.until)} if period.until else {}),
        },
        results=len(rows),
        audit_ids=[r["audit_id"] for r in rows],
    )
    # the subject field is not echoed back into the form: the answer page stays free of it
    return _page(request, "search.html", form=shown, results=rows, error=None, limited=limited)


async def record_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    audit_id = request.match_info["audit_id"]
    view = await reads.record(state.store, audit_id)
    if view is None:
        raise NotFound()
    await _log_access(
        state,
        "record",
        subject_indexes=[view.intent.fields["subject_index"]]
        if view.intent.fields.get("subject_index")
        else [],
        audit_ids=[audit_id],
        results=1,
    )
    return _page(request, "record.html", view=view, r=view.result)


async def record_evidence(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    audit_id = request.match_info["audit_id"]
    view = await reads.record(state.store, audit_id)
    if view is None or view.result["kind"] != "query" or not view.result["xroad_message_id"]:
        raise NotFound()
    document = await state.store.prove(view.result["xroad_message_id"])
    await _log_access(
        state,
        "proof",
        subject_indexes=[view.intent.fields["subject_index"]]
        if view.intent.fields.get("subject_index")
        else [],
        audit_ids=[audit_id],
        results=1,
    )
    return _download(document, "application/xml", f"audit-proof-{audit_id}.xml")


def _download(body: bytes, content_type: str, name: str) -> web.Response:
    response = web.Response(body=body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


async def report_form(request: web.Request) -> web.Response:
    return _page(request, "report.html", form={}, error=None, report=None)


async def report(request: web.Request) -> web.Response:
    state = request.app[STATE]
    session = _session(request)
    assert session is not None  # require_session
    form = await request.post()
    subject = _subject(form)
    period = _period(form)
    shown = {"from": _form_text(form, "from", 10), "to": _form_text(form, "to", 10)}
    if period.error is not None or not subject or period.since is None or period.until is None:
        error = period.error or "report.need"
        return _page(request, "report.html", form=shown, error=error, report=None)
    query = ReportQuery(subject, period.since, period.until)
    results = await _report_rows(state, query)
    report_id = session.add_report(query)
    await _log_access(
        state,
        "report",
        subject_indexes=_indexes(state, subject),
        filters={"from": present.local(query.since), "to": present.local(query.until)},
        results=len(results),
        audit_ids=[r["audit_id"] for r in results],
    )
    return _page(
        request,
        "report.html",
        form=shown,
        error=None,
        report={
            "id": report_id,
            "subject": subject,
            "since": query.since,
            "until": query.until - timedelta(microseconds=1),
            "produced": utcnow(),
            "rows": results,
        },
    )


async def _report_rows(state: ViewState, query: ReportQuery) -> list[dict[str, Any]]:
    return await state.store.search(
        subject=query.subject, since=query.since, until=query.until, limit=REPORT_LIMIT
    )


def _session_report(request: web.Request) -> tuple[str, ReportQuery]:
    session = _session(request)
    assert session is not None  # require_session
    report_id = request.match_info["report_id"]
    query = session.reports.get(report_id)
    if query is None:
        raise NotFound()
    return report_id, query


async def report_csv_download(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    _, query = _session_report(request)
    results = await _report_rows(state, query)
    body = report_csv(results)
    await _log_access(
        state,
        "report_csv",
        subject_indexes=_indexes(state, query.subject),
        results=len(results),
        audit_ids=[r["audit_id"] for r in results],
    )
    return _download(body, "text/csv", f"audit-report-{_stamp()}.csv")


async def report_xml_download(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    _, query = _session_report(request)
    results = await _report_rows(state, query)
    body = await subject_report_xml(state.store, results, query.since, query.until)
    await _log_access(
        state,
        "report_xml",
        subject_indexes=_indexes(state, query.subject),
        results=len(results),
        audit_ids=[r["audit_id"] for r in results],
    )
    return _download(body, "application/xml", f"audit-report-{_stamp()}.xml")


def _stamp() -> str:
    return datetime.now(UTC).astimezone(present.HELSINKI).strftime("%Y%m%d-%H%M%S")


# --- the application -------------------------------------------------------------------------------------


def create_view_app(
    store: AuditStore,
    *,
    auditor: str,
    lang: str = "en",
    sessions: Sessions | None = None,
    port: int = 8090,
    secure_cookie: bool = False,
    verify_in_background: bool = True,
) -> web.Application:
    """The view over an open ``store``; the caller opens and closes the store."""
    app = web.Application(
        middlewares=[security_headers, require_session, store_errors], client_max_size=64 * 1024
    )
    state = ViewState(
        store=store,
        auditor=auditor,
        lang=lang,
        sessions=sessions or Sessions(),
        # cookies ignore the port: two views on one host must not overwrite each other's session
        cookie_name=f"xroad_vtj_audit_{port}",
        secure_cookie=secure_cookie,
    )
    app[STATE] = state
    app[BACKGROUND] = set()
    static = resources.files("xroad_vtj.auditor") / "static"
    app.router.add_get("/", overview)
    app.router.add_post("/verify", verify_again)
    app.router.add_post("/sign-out", sign_out)
    app.router.add_get("/search", search_form)
    app.router.add_post("/search", search)
    app.router.add_get("/records/{audit_id}", record_page)
    app.router.add_get("/records/{audit_id}/evidence.xml", record_evidence)
    app.router.add_get("/report", report_form)
    app.router.add_post("/report", report)
    app.router.add_get("/report/{report_id}/report.csv", report_csv_download)
    app.router.add_get("/report/{report_id}/report.xml", report_xml_download)
    app.router.add_static("/static/", str(static), show_index=False, follow_symlinks=False)

    async def background(app: web.Application) -> Any:
        if verify_in_background:
            state.verify_task = asyncio.create_task(_verify_loop(state), name="auditor-verify")
        yield
        tasks = [t for t in [state.verify_task, state.counting, *app[BACKGROUND]] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(background)
    return app
