"""``application/problem+json`` answers (RFC 9457) built from the service's errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from xroad_vtj.errors import XRoadVtjError

PROBLEM_JSON = "application/problem+json"


# One encoder for the process: json.dumps with options builds a new JSONEncoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def problem_response(error: XRoadVtjError) -> web.Response:
    body = error.problem()
    headers = {}
    retry_after = body.pop("retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    return web.Response(
        status=error.status, text=json_dumps(body), content_type=PROBLEM_JSON, headers=headers
    )


class _HttpProblem(XRoadVtjError):
    """An aiohttp routing/protocol error given a stable code."""

    def __init__(self, status: int, code: str, title: str) -> None:
        self._status, self._code, self._title = status, code, title
        super().__init__(title)

    def problem(self) -> dict[str, Any]:
        return {
            "type": f"urn:xroad-vtj:problem:{self._code}",
            "title": self._title,
            "status": self._status,
            "code": self._code,
            "detail": self._title,
        }


_HTTP_CODES = {
    404: ("not_found", "No such endpoint"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("request_too_large", "Request body too large"),
}


def http_exception_problem(exc: web.HTTPException) -> web.Response:
    code, title = _HTTP_CODES.get(exc.status, ("invalid_request", exc.reason or "Bad request"))
    problem = _HttpProblem(exc.status, code, title)
    headers = {}
    if exc.status == 405 and "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return web.Response(
        status=exc.status, text=json_dumps(problem.problem()), content_type=PROBLEM_JSON, headers=headers
    )
