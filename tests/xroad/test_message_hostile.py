"""What a fuzzing upstream found in parse_message (issue 11 §7): every failure to read an answer is an
``InvalidUpstreamResponse``, and reading is linear in the answer's size whatever its prolog holds."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xroad_vtj.errors import InvalidUpstreamResponse
from xroad_vtj.xroad import parse_message

ENVELOPE = (
    b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
    b"<SOAP-ENV:Fault><faultcode>Server.ClientProxy.NetworkError</faultcode><faultstring>x</faultstring>"
    b"</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


class _TooSlow(Exception):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupt the main thread after ``seconds`` (re checks signals while it backtracks)."""

    def fire(*_: object) -> None:
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- the DOCTYPE prolog scan --------------------------------------------------------------------------------


def test_a_run_of_processing_instructions_before_a_commented_doctype_does_not_stall() -> None:
    # 161 bytes took 11 s with the old regular expression (exponential backtracking).
    data = b"<?a?>" * 24 + b"<x/>" + b"<!--<!DOCTYPE-->"
    with deadline(2.0), pytest.raises(InvalidUpstreamResponse):
        parse_message(data, "text/xml")


def test_a_valid_answer_behind_processing_instructions_and_a_commented_doctype_is_read_at_once() -> None:
    data = b"<?a?>" * 18 + ENVELOPE + b"<!--<!DOCTYPE-->"
    with deadline(2.0):
        message = parse_message(data, "text/xml")
    assert message.fault is not None


@pytest.mark.parametrize(
    "prolog",
    [
        b"<!DOCTYPE x []>",
        b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- c --><?pi x?>  <!DOCTYPE x []>",
        b"<?a?>" * 50 + b"<!--<!DOCTYPE-->" + b"<!DOCTYPE x>",
    ],
)
def test_a_doctype_in_the_prolog_is_still_refused(prolog: bytes) -> None:
    with pytest.raises(InvalidUpstreamResponse, match="document type"):
        parse_message(prolog + ENVELOPE, "text/xml")


def _best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def _read(data: bytes) -> None:
    with suppress(InvalidUpstreamResponse):
        parse_message(data, "text/xml", max_bytes=64 * 1024 * 1024)


@pytest.mark.parametrize(
    "unit",
    [b"<?a?>", b"<!---->", b" ", b"<?a?><!--<!DOCTYPE-->"],
    ids=["pis", "comments", "spaces", "pis-and-doctype-comments"],
)
def test_parsing_time_grows_linearly_with_the_prolog(unit: bytes) -> None:
    def answer(n: int) -> bytes:
        return unit * n + ENVELOPE + b"<!--<!DOCTYPE-->"

    with deadline(20.0):
        _read(answer(1000))  # warm up
        small = _best_of(3, lambda: _read(answer(20_000)))
        large = _best_of(3, lambda: _read(answer(160_000)))
    # 8 times the input; linear is ~8, quadratic ~64. Ratios, not absolute times: the machine is shared.
    assert large / small < 24, (small, large)


# --- charsets and multipart boundaries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/xml; charset=undefined",
        "text/xml; charset=punycode",
        "text/xml; charset=idna",
        "text/xml; charset=raw_unicode_escape",
        "text/xml; charset=rot13",
        "text/xml; charset=base64",
        "text/xml; charset=utf-16-le",
    ],
)
def test_an_odd_charset_is_an_invalid_upstream_response(content_type: str) -> None:
    data = b"\\ud800 \xff\xfe\x00" + ENVELOPE
    with pytest.raises(InvalidUpstreamResponse):
        parse_message(data, content_type)


def test_a_multipart_boundary_outside_latin1_is_an_invalid_upstream_response() -> None:
    with pytest.raises(InvalidUpstreamResponse, match="boundary"):
        parse_message(b"--\xe2\x82\xac\r\n\r\n" + ENVELOPE, 'multipart/related; boundary="\u20ac"')


@settings(max_examples=300, deadline=None)
@given(
    content_type=st.one_of(
        st.none(),
        st.builds(lambda c: f"text/xml; charset={c}", st.text(max_size=20)),
        st.builds(lambda b: f"multipart/related; boundary={b}", st.text(max_size=20)),
        st.text(max_size=60),
    ),
    data=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda prefix, tail: prefix + ENVELOPE + tail, st.binary(max_size=40), st.binary(max_size=40)
        ),
    ),
)
def test_any_content_type_and_body_either_parse_or_are_an_invalid_upstream_response(
    content_type: str | None, data: bytes
) -> None:
    with suppress(InvalidUpstreamResponse):
        parse_message(data, content_type)
