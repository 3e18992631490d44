"""Protocol cost: CPU time per query to build the request and to parse + verify a realistic response.

Ours: ``build_operation_body`` (the pipeline's builder) + ``build_request`` (the bytes that are sent and hashed), then
``parse_message`` + ``verify_response`` (requestHash over the sent bytes, every echoed header, wrapper name)
+ ``parse_henkilon_tunnus_kysely_response`` (outcome, person, data categories) and ``to_json``.

zeep 4 with ``bench/wsdl/henkilontunnuskysely.wsdl`` (the same operation, X-Road headers and a typed PERUSSANOMA
1 answer): ``create_message`` + serialisation, then ``process_reply`` (parse into objects), the SHA-512
comparison and a check of the echoed id, client and service. zeep's side does less checking than ours, so the
ratio is if anything in zeep's favour.

The responses are real simulator answers to each request (their requestHash matches), made outside the
timed sections, in chunks of 50 so that the bytes being parsed are as warm in the CPU caches as a response
just read from a socket. CPU time is ``time.process_time``; the best of several repeats is reported, as the
least disturbed by other work on the machine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import (
    CLIENT,
    END_USER,
    HETU,
    PRODUCT,
    PURPOSE,
    REPO,
    VTJ_PASSWORD,
    VTJ_SERVICE,
    VTJ_USERNAME,
)
from xroad_vtj.simulator.app import STATE, create_simulator_app, vtj_answer
from xroad_vtj.vtj import parse_henkilon_tunnus_kysely_response
from xroad_vtj.vtj.operations import PERSON_QUERY, build_operation_body
from xroad_vtj.xroad import (
    ClientId,
    Headers,
    ServiceId,
    build_request,
    build_response,
    new_message_id,
    parse_message,
    request_hash,
    verify_response,
)

WSDL = REPO / "bench" / "wsdl" / "henkilontunnuskysely.wsdl"
_CLIENT = ClientId.parse(CLIENT)
_SERVICE = ServiceId.parse(VTJ_SERVICE)
_SIMULATOR = create_simulator_app()[STATE]


@dataclass(frozen=True)
class ProtocolResult:
    ours_build_us: float
    ours_parse_us: float
    zeep_build_us: float | None
    zeep_parse_us: float | None
    note: str = ""

    @property
    def ours_us(self) -> float:
        return self.ours_build_us + self.ours_parse_us

    @property
    def zeep_us(self) -> float | None:
        if self.zeep_build_us is None or self.zeep_parse_us is None:
            return None
        return self.zeep_build_us + self.zeep_parse_us

    @property
    def ratio(self) -> float | None:
        return None if self.zeep_us is None else self.zeep_us / self.ours_us


def answer_for(headers: Headers, sent: bytes) -> bytes:
    """The simulator's answer to ``sent`` (a found PERUSSANOMA 1 person), as the security server returns it."""
    message = parse_message(sent, "text/xml; charset=UTF-8")
    assert message.body is not None
    return build_response(headers, vtj_answer(_SIMULATOR, message.body), request_hash=request_hash(sent))


# --- ours ---------------------------------------------------------------------------------------------------


def ours_build() -> tuple[Headers, bytes]:
    headers = Headers(_CLIENT, _SERVICE, new_message_id(), END_USER, PURPOSE)
    body = build_operation_body(
        PERSON_QUERY,
        product=PRODUCT,
        username=VTJ_USERNAME,
        password=VTJ_PASSWORD,
        end_user=END_USER,
        fields=(("Henkilotunnus", HETU),),
    )
    return headers, build_request(headers, body)


def ours_parse(headers: Headers, sent: bytes, received: bytes) -> dict[str, Any]:
    message = parse_message(received, "text/xml; charset=UTF-8")
    result = parse_henkilon_tunnus_kysely_response(verify_response(message, sent, headers))
    return result.to_json()


# --- zeep ---------------------------------------------------------------------------------------------------


class ZeepSide:
    def __init__(self) -> None:
        import zeep  # only for the benchmark: an optional extra ("bench")
        from lxml import etree

        self._etree = etree
        self.client = zeep.Client(str(WSDL))  # type: ignore[no-untyped-call]
        self.binding = self.client.service._binding
        self.operation = self.binding.get("HenkilonTunnusKysely")
        self._parse_xml: Callable[..., Any] = zeep.loader.parse_xml
        self._client_header = {
            "objectType": "SUBSYSTEM",
            "xRoadInstance": _CLIENT.instance,
            "memberClass": _CLIENT.member_class,
            "memberCode": _CLIENT.member_code,
            "subsystemCode": _CLIENT.subsystem,
        }
        self._service_header = {
            "objectType": "SERVICE",
            "xRoadInstance": _SERVICE.instance,
            "memberClass": _SERVICE.member_class,
            "memberCode": _SERVICE.member_code,
            "subsystemCode": _SERVICE.subsystem,
            "serviceCode": _SERVICE.service_code,
            "serviceVersion": _SERVICE.service_version,
        }

    def build(self) -> tuple[str, bytes]:
        message_id = new_message_id()
        envelope = self.client.create_message(  # type: ignore[no-untyped-call]
            self.client.service,
            "HenkilonTunnusKysely",
            request={
                "SoSoNimi": PRODUCT,
                "Kayttajatunnus": VTJ_USERNAME,
                "Salasana": VTJ_PASSWORD,
                "Loppukayttaja": END_USER,
                "Henkilotunnus": HETU,
            },
            _soapheaders={
                "client": self._client_header,
                "service": self._service_header,
                "id": message_id,
                "userId": END_USER,
                "issue": PURPOSE,
                "protocolVersion": "4.0",
            },
        )
        sent = bytes(self._etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))
        return message_id, sent

    def parse(self, message_id: str, sent: bytes, received: bytes) -> Any:
        document = self._parse_xml(received, self.client.transport, settings=self.client.settings)
        result = self.operation.process_reply(document)
        header = result.header
        digest = base64.b64decode(header.requestHash._value_1)
        if not hmac.compare_digest(digest, hashlib.sha512(sent).digest()):
            raise ValueError("requestHash mismatch")
        if header.id != message_id:
            raise ValueError("id not echoed")
        if (
            header.client.memberCode != _CLIENT.member_code
            or header.service.serviceCode != "HenkilonTunnusKysely"
        ):
            raise ValueError("headers not echoed")
        answer = result.body.response.VTJHenkiloVastaussanoma
        if answer.Paluukoodi.koodi != "0000":
            raise ValueError("unexpected return code")
        return answer.Henkilo


def zeep_headers(message_id: str) -> Headers:
    return Headers(_CLIENT, _SERVICE, message_id, END_USER, PURPOSE)


# --- timing -------------------------------------------------------------------------------------------------


CHUNK = 50  # requests built, answered and parsed together: their bytes stay in the CPU caches, as in service


def _measure(
    build: Callable[[], tuple[Any, bytes]],
    answer: Callable[[Any, bytes], bytes],
    parse: Callable[[Any, bytes, bytes], Any],
    n: int,
) -> tuple[float, float]:
    """CPU µs per call of ``build`` and of ``parse``; the simulator's answers are made outside the timing."""
    build_s = parse_s = 0.0
    done = 0
    while done < n:
        start = time.process_time()
        built = [build() for _ in range(CHUNK)]
        build_s += time.process_time() - start
        answers = [(key, sent, answer(key, sent)) for key, sent in built]
        start = time.process_time()
        for key, sent, received in answers:
            parse(key, sent, received)
        parse_s += time.process_time() - start
        done += CHUNK
    return build_s / done * 1e6, parse_s / done * 1e6


def _best(
    build: Callable[[], tuple[Any, bytes]],
    answer: Callable[[Any, bytes], bytes],
    parse: Callable[[Any, bytes, bytes], Any],
    n: int,
    repeats: int,
) -> tuple[float, float]:
    key, sent = build()
    parse(key, sent, answer(key, sent))  # warm caches (local-name table, identifiers, regexes)
    runs = [_measure(build, answer, parse, n) for _ in range(repeats)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def measure_ours(n: int, repeats: int) -> tuple[float, float]:
    return _best(ours_build, answer_for, ours_parse, n, repeats)


def measure_zeep(n: int, repeats: int) -> tuple[float, float] | None:
    try:
        side = ZeepSide()
    except ImportError:
        return None

    def answer(message_id: str, sent: bytes) -> bytes:
        return answer_for(zeep_headers(message_id), sent)

    return _best(side.build, answer, side.parse, n, repeats)


def run(n: int = 2000, repeats: int = 5) -> ProtocolResult:
    ours = measure_ours(n, repeats)
    zeep = measure_zeep(max(n // 5, 50), repeats)
    if zeep is None:
        return ProtocolResult(*ours, None, None, note="zeep not installed (pip install -e '.[bench]')")
    return ProtocolResult(*ours, *zeep)


def sample_messages() -> tuple[bytes, bytes]:
    """One request and its answer, for a look at what is measured."""
    headers, sent = ours_build()
    return sent, answer_for(headers, sent)


if __name__ == "__main__":
    print(run())
