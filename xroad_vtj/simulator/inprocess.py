"""The simulator as an in-process transport double: request bytes in, the bytes the simulator would answer out.

For unit tests of the pipeline without sockets (httpcore's ``MockStream`` is the model): the answers come from
the same functions the simulator's HTTP handlers use, so a test through this double and a test through the
real simulator see the same bytes. Modes that break the connection itself (resets, stalls, huge bodies) need
the real simulator; here they raise :class:`NotImplementedError`.
"""

from __future__ import annotations

from xroad_vtj.simulator.app import (
    DirectFault,
    SimFault,
    SimulatorState,
    _current_mode,
    check_request,
    direct_answer,
    fault_bytes,
    read_direct_request,
    xroad_answer,
)
from xroad_vtj.transport import Reply
from xroad_vtj.xroad import build_fault

_XML = "text/xml; charset=UTF-8"
_ANSWERING_MODES = frozenset(
    {
        "normal",
        "fault",
        "malformed_xml",
        "wrong_request_hash",
        "missing_request_hash",
        "wrong_message_id",
        "vtj_return_code",
        "other_person",
        "billion_laughs",
        "external_entity",
        "deep_nesting",
    }
)


class InProcessTransport:
    """Answers like the simulator of ``state`` (its route, credentials, knobs and test data)."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.sent: list[bytes] = []

    async def post(
        self, body: bytes, *, max_bytes: int | None = None, soap_action: str | None = None
    ) -> Reply:
        state = self.state
        self.sent.append(body)
        state.request_count += 1
        if state.route == "direct":
            return self._direct(body, soap_action)
        try:
            headers, wrapper = check_request(state, body, _XML)
        except SimFault as fault:
            return Reply(200, _XML, fault_bytes(state, fault.name, fault.detail))
        state.received.append(headers.id)
        mode = self._mode()
        if mode == "fault":
            return Reply(200, _XML, fault_bytes(state, state.knobs.fault))
        if mode == "malformed_xml":
            return Reply(200, _XML, b"<?xml version='1.0'?><SOAP-ENV:Envelope><unclosed>")
        return Reply(200, _XML, xroad_answer(state, headers, wrapper, body, mode))

    def _direct(self, body: bytes, soap_action: str | None) -> Reply:
        state = self.state
        try:
            operation, element, fields = read_direct_request(body, _XML, soap_action)
        except DirectFault as fault:
            return Reply(500, _XML, build_fault("soap:Client", str(fault)))
        state.received_operations.append(element)
        mode = self._mode()
        if mode == "fault":
            return Reply(500, _XML, fault_bytes(state, state.knobs.fault))
        if mode == "malformed_xml":
            return Reply(200, _XML, b"<?xml version='1.0'?><soap:Envelope><unclosed>")
        try:
            return Reply(200, _XML, direct_answer(state, operation, element, fields, mode))
        except DirectFault as fault:
            return Reply(500, _XML, build_fault("soap:Client", str(fault)))

    def _mode(self) -> str:
        mode = _current_mode(self.state.knobs)
        if mode not in _ANSWERING_MODES:
            raise NotImplementedError(f"mode {mode} breaks the connection: use the real simulator")
        return mode
