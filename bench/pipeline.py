"""Where a query's CPU goes, stage by stage, without the network: ``python -m bench.pipeline``.

Each stage the service runs for one person query is timed on its own, in this process, over many
iterations (CPU time, best of several repeats): request JSON decoding and validation, authentication, the
data-permit check, building the message, the audit record bodies, parsing and verifying the answer, the
VTJ parse, redaction, the answer JSON, one log line and the metrics. The HTTP stacks (aiohttp server and
client) and the audit writer thread are not in these figures; ``bench.throughput`` measures the whole.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import QUERY_BODY, TOKEN, service_config
from bench.protocol import answer_for
from xroad_vtj.api.problems import json_dumps
from xroad_vtj.api.validation import decode_json_object, validate_person_query
from xroad_vtj.audit import codec
from xroad_vtj.audit.records import Intent, Outcome
from xroad_vtj.audit.store import open_store
from xroad_vtj.config import load_config
from xroad_vtj.logging import configure_logging, get_logger
from xroad_vtj.metrics import Metrics
from xroad_vtj.policy import Policy
from xroad_vtj.vtj import build_henkilon_tunnus_kysely, parse_henkilon_tunnus_kysely_response
from xroad_vtj.xroad import (
    Headers,
    build_request,
    new_message_id,
    parse_message,
    request_hash,
    verify_response,
)


def _best_us(fn: Callable[[], Any], n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, time.process_time() - start)
    return best / n * 1e6


def stages(n: int = 2000, repeats: int = 5) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(service_config(Path(tmp), port=1, simulator_port=2), environ={})
        store = open_store(config.audit, instance="bench")
        asyncio.run(store.open())  # creates the keys; the keyring is what the codec needs
        keyring = store.keyring
        policy = Policy(config.callers, store)
        caller = config.callers[0]
        metrics = Metrics()
        configure_logging("info", stream=io.StringIO())
        log = get_logger("bench")
        body = QUERY_BODY.encode()
        query = validate_person_query(decode_json_object(body), config.vtj.default_product)
        headers = Headers(
            config.xroad.client, config.vtj.service, new_message_id(), query.end_user, query.purpose
        )

        def build() -> bytes:
            return build_request(
                headers,
                build_henkilon_tunnus_kysely(
                    product=query.product,
                    username=config.vtj.username,
                    password=config.vtj.password,
                    end_user=query.end_user,
                    hetu=query.hetu,
                ),
            )

        sent = build()
        received = answer_for(headers, sent)
        result = parse_henkilon_tunnus_kysely_response(
            verify_response(parse_message(received, "text/xml"), sent, headers)
        )
        now = datetime.now(UTC)
        intent = Intent(
            caller=caller.name,
            end_user=query.end_user,
            purpose=query.purpose,
            product=query.product,
            client=str(config.xroad.client),
            service=str(config.vtj.service),
            xroad_message_id=headers.id,
            subject=query.hetu,
            request_sha512=request_hash(sent),
            requested_at=now,
        )
        outcome = Outcome(
            outcome="found",
            completed_at=now,
            latency_seconds=0.01,
            http_status=200,
            error_code=None,
            return_code="0000",
            fault_code=None,
            fault_detail=None,
            fault_family=None,
            received_request_hash=request_hash(sent),
            data_categories=result.data_categories,
        )
        person = result.person.to_json() if result.person else None
        answer = {"outcome": "found", "return_code": "0000", "person": person, "audit_id": "x"}
        loop = asyncio.new_event_loop()

        def authorize() -> None:
            loop.run_until_complete(policy.authorize_query(caller, query))

        def observe() -> None:
            # As the service does it: the children of labelled metrics are remembered (Metrics.child).
            metrics.child(metrics.http_requests, "/v1/person-queries", "POST", "2xx").inc()
            metrics.child(metrics.http_duration, "/v1/person-queries").observe(0.01)
            metrics.child(metrics.queries, "found", "HenkilonTunnusKysely").inc()
            metrics.child(metrics.upstream_requests, "found", "none", "HenkilonTunnusKysely").inc()
            metrics.upstream_duration.observe(0.01)
            metrics.in_flight.inc()
            metrics.in_flight.dec()

        figures = {
            "decode + validate request JSON": _best_us(
                lambda: validate_person_query(decode_json_object(body), "PERUSSANOMA 1"), n, repeats
            ),
            "authenticate (bearer token)": _best_us(
                lambda: policy.authenticate(f"Bearer {TOKEN}", None), n, repeats
            ),
            "authorize (permit; quotas off)": _best_us(authorize, n, repeats),
            "build request (body + envelope)": _best_us(build, n, repeats),
            "requestHash of the sent bytes": _best_us(lambda: request_hash(sent), n, repeats),
            "audit intent body (encrypt + JSON)": _best_us(
                lambda: codec.intent_body(intent, "a", "bench", keyring), n, repeats
            ),
            "audit outcome body (JSON + MAC)": _best_us(
                lambda: codec.outcome_body("a", "bench", outcome, keyring), n, repeats
            ),
            "parse_message": _best_us(lambda: parse_message(received, "text/xml; charset=UTF-8"), n, repeats),
            "parse + verify_response": _best_us(
                lambda: verify_response(parse_message(received, "text/xml; charset=UTF-8"), sent, headers),
                n,
                repeats,
            ),
            "parse + verify + VTJ parse + to_json": _best_us(
                lambda: parse_henkilon_tunnus_kysely_response(
                    verify_response(parse_message(received, "text/xml; charset=UTF-8"), sent, headers)
                ).to_json(),
                n,
                repeats,
            ),
            "redact (policy)": _best_us(lambda: policy.redact(caller, person), n, repeats),
            "answer JSON": _best_us(lambda: json_dumps(answer), n, repeats),
            "one info log line": _best_us(
                lambda: log.info("http_request", method="POST", route="/x", status=200, seconds=0.01),
                n,
                repeats,
            ),
            "metrics (7 updates)": _best_us(observe, n, repeats),
            "message id (uuid4)": _best_us(new_message_id, n, repeats),
        }
        loop.close()
        asyncio.run(store.close())
        return figures


def main() -> None:
    for name, us in stages().items():
        print(f"{us:8.1f} µs  {name}")


if __name__ == "__main__":
    main()
