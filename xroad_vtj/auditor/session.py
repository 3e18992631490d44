"""Access to the view: one random token per run, exchanged once per browser for a session cookie.

The token travels only in the URL the command prints (as notebook servers do); opening it sets an HttpOnly,
SameSite=Strict cookie and redirects to a URL without it. Sessions live in memory: they end when the view
stops, after ``IDLE_SECONDS`` without a request, or ``MAX_SECONDS`` after they began. A report's downloads
are reached through an opaque id held in the session, so the subject never appears in a URL, and the id
dies with the session."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime

IDLE_SECONDS = 30 * 60
MAX_SECONDS = 12 * 3600
MAX_REPORTS = 20  # per session; the oldest is forgotten first


@dataclass(frozen=True, slots=True)
class ReportQuery:
    subject: str
    since: datetime
    until: datetime


@dataclass(slots=True)
class Session:
    created: float
    seen: float
    reports: dict[str, ReportQuery] = field(default_factory=dict)

    def add_report(self, query: ReportQuery) -> str:
        report_id = secrets.token_urlsafe(16)
        self.reports[report_id] = query
        while len(self.reports) > MAX_REPORTS:
            del self.reports[next(iter(self.reports))]
        return report_id


class Sessions:
    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self._sessions: dict[str, Session] = {}

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def start(self) -> str:
        now = time.monotonic()
        self._expire(now)
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = Session(created=now, seen=now)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = time.monotonic()
        self._expire(now)
        # dict lookup by a secret: the id is 256 random bits, a timing difference reveals nothing usable
        session = self._sessions.get(session_id)
        if session is not None:
            session.seen = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _expire(self, now: float) -> None:
        for sid in [
            s
            for s, v in self._sessions.items()
            if now - v.seen > IDLE_SECONDS or now - v.created > MAX_SECONDS
        ]:
            del self._sessions[sid]
