"""Hypothesis against the real HTTP API: random JSON, random bytes, random headers never give a 500, and nothing
invalid ever reaches the security server.

The simulator and the service run on loopback in an event loop of their own (a background thread), so that
hypothesis can drive them with plain blocking HTTP (``http.client``), which sends any bytes and headers as given.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import AUDITOR_TOKEN, TOKEN, base_config
from tests.policy.helpers import assert_schema
from xroad_vtj.api.server import Service
from xroad_vtj.config import parse_config
from xroad_vtj.simulator.app import STATE, SimulatorState, create_simulator_app
from xroad_vtj.simulator.run import RunningSimulator
from xroad_vtj.vtj import is_valid_hetu

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
MAX_BODY = 2048
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Live:
    def __init__(self, port: int, simulator: SimulatorState) -> None:
        self.port = port
        self.simulator = simulator

    def __repr__(self) -> str:
        return f"Live(port={self.port})"

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    app = create_simulator_app()
    simulator = RunningSimulator(app)
    run(simulator.start("127.0.0.1", 0))
    raw = base_config(tmp, f"http://127.0.0.1:{simulator.port}/", server={"max_body_bytes": MAX_BODY})
    service = Service(parse_config(raw, tmp, environ={}))
    run(service.start())
    assert service.port is not None
    yield Live(service.port, app[STATE])
    run(service.drain())
    run(service.stop())
    run(simulator.stop())
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


PERMIT = {"perussanoma 1", "perussanoma 3"}  # the products of the caller "caseapp" in base_config


def valid_query(value: Any) -> bool:
    """An independent statement of what may reach the security server: well-formed and within the permit."""
    if not isinstance(value, dict) or not set(value) <= {"hetu", "product", "end_user", "purpose"}:
        return False

    def text(key: str, limit: int) -> bool:
        v = value.get(key)
        return isinstance(v, str) and 0 < len(v) <= limit and v.isprintable() and bool(v.strip())

    product = value.get("product")
    product_ok = product is None or (text("product", 100) and product.casefold() in PERMIT)
    hetu = value.get("hetu")
    return (
        isinstance(hetu, str)
        and is_valid_hetu(hetu)
        and text("end_user", 50)
        and text("purpose", 200)
        and product_ok
    )


def post(live: Live, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any, bool]:
    """POST a person query; returns status, headers, the JSON answer and whether it reached the simulator."""
    before = len(live.simulator.received)
    status, response_headers, data = live.request("POST", "/v1/person-queries", body, headers)
    reached = len(live.simulator.received) > before
    answer = json.loads(data)  # every answer is JSON, whatever came in
    assert (status != 500 and status < 500) or status in (502, 503, 504), (status, answer)
    if status >= 400:
        assert response_headers["content-type"].startswith("application/problem+json")
        assert answer["status"] == status and answer["code"]
    if status in (400, 401, 403, 413, 429):
        assert not reached
    return status, response_headers, answer, reached


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=60),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
hetus = st.sampled_from(
    ["010280-952L", "260991-999R", "010280-952X", "311211A9527", "", "010280+952L"]
) | st.text(min_size=10, max_size=12)
texts = st.one_of(
    st.text(min_size=0, max_size=220),
    st.sampled_from(
        ["officer.1", " ", "\t", "a\nb", "\u200b", "\ud800", "x" * 50, "x" * 51, "y" * 200, "y" * 201]
    ),
    json_values,
)
query_shaped = st.fixed_dictionaries(
    {"hetu": hetus | json_values, "end_user": texts, "purpose": texts},
    optional={
        "product": st.sampled_from(["PERUSSANOMA 1", "perussanoma 3", "X", "PERUSSANOMA 2"]) | texts,
        "extra": json_values,
        "HETU": hetus,
    },
)


@FUZZ
@given(value=json_values)
def test_random_json_values_never_give_a_500(live: Live, value: Any) -> None:
    _, _, _, reached = post(live, json.dumps(value).encode(), AUTH)
    assert not reached


@FUZZ
@given(value=query_shaped)
def test_random_person_queries_reach_the_security_server_only_when_valid(
    live: Live, value: dict[str, Any]
) -> None:
    body = json.dumps(value).encode()
    status, _, answer, reached = post(live, body, AUTH)
    if len(body) > MAX_BODY:
        assert (status, answer["code"]) == (413, "request_too_large")
    elif valid_query(value):
        assert status == 200 and reached, answer
        assert_schema("PersonQuery", value)  # what the service accepts, the published schema allows
    else:
        assert not reached and status in (400, 403), answer


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes_never_give_a_500(live: Live, data: bytes) -> None:
    status, _, _, reached = post(live, data, AUTH)
    assert not reached
    assert status in (400, 413)


header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)
header_names = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~"),
    min_size=1,
    max_size=20,
).filter(
    lambda name: name.lower() not in {"content-length", "transfer-encoding", "host", "connection", "expect"}
)


@FUZZ
@given(
    extra=st.dictionaries(header_names, header_text, max_size=5),
    authorization=st.sampled_from([f"Bearer {TOKEN}", f"bearer {TOKEN}", "Bearer x", "", "Basic x", None])
    | header_text,
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/json; charset=latin-1", None]
    )
    | header_text,
    request_id=header_text,
)
def test_random_headers_never_give_a_500(
    live: Live, extra: dict[str, str], authorization: str | None, content_type: str | None, request_id: str
) -> None:
    headers = dict(extra)
    if authorization is not None:
        headers["Authorization"] = authorization
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers["X-Request-Id"] = request_id
    body = json.dumps({"hetu": "010280-952L", "end_user": "officer.1", "purpose": "CASE-2026-1"}).encode()
    status, response_headers, _, _ = post(live, body, headers)
    assert status in (200, 400, 401)
    echoed = response_headers["x-request-id"]
    assert REQUEST_ID.fullmatch(echoed)  # a caller's id is echoed only when well-formed, else a fresh one
    if REQUEST_ID.fullmatch(request_id):
        assert echoed == request_id


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["xroad_id", "end_user", "subject", "from", "to", "limit", "other"]),
        header_text,
        max_size=4,
    )
)
def test_random_audit_search_parameters_never_give_a_500(live: Live, params: dict[str, str]) -> None:
    from urllib.parse import urlencode

    status, _, data = live.request(
        "GET", "/v1/audit/records?" + urlencode(params), headers={"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    )
    assert status in (200, 400), data
    json.loads(data)


EDGE_BODIES = {
    "nesting past the recursion limit": b"[" * 1020 + b"]" * 1020,  # RecursionError inside json
    "deeply nested object": b'{"a":' * 300 + b"1" + b"}" * 300,
    "a repeated hetu": b'{"hetu":"010280-952L","hetu":"260991-999R","end_user":"u","purpose":"p"}',
    "NaN": b'{"hetu":NaN,"end_user":"u","purpose":"p"}',
    "Infinity": b'{"hetu":"010280-952L","end_user":"u","purpose":"p","x":-Infinity}',
    "a lone surrogate": b'{"hetu":"010280-952L","end_user":"\\ud800","purpose":"p"}',
    "a NUL in the purpose": b'{"hetu":"010280-952L","end_user":"u","purpose":"a\\u0000b"}',
    "invalid UTF-8": b'{"hetu":"010280-952L","end_user":"\xff\xfe","purpose":"p"}',
    "UTF-16": '{"hetu":"010280-952L","end_user":"u","purpose":"p","z":1}'.encode("utf-16"),
    "empty": b"",
    "only whitespace": b"   ",
    "a bare string": b'"010280-952L"',
    "a huge number": b'{"hetu":' + b"9" * 1800 + b',"end_user":"u","purpose":"p"}',
}


@pytest.mark.parametrize("name", list(EDGE_BODIES))
def test_awkward_json_is_a_400_and_never_reaches_the_security_server(live: Live, name: str) -> None:
    status, _, answer, reached = post(live, EDGE_BODIES[name], AUTH)
    assert (status, answer["code"]) == (400, "invalid_request"), answer
    assert not reached
