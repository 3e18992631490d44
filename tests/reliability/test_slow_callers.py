"""Callers that send slowly or never finish their request hold no connection, slot or memory past
``server.client_timeout_seconds``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import OPERATOR_TOKEN, TOKEN, Running, ServiceFactory, Sim, base_config

CLIENT_TIMEOUT = 0.5
# How long a test waits for the server to act before it gives up: a bound, not a measurement.
GIVE_UP = CLIENT_TIMEOUT + 10


async def patient_service(start_service: ServiceFactory, simulator: Sim, tmp_path: Path) -> Running:
    running: Running = await start_service(
        base_config(tmp_path, simulator.url, server={"client_timeout_seconds": CLIENT_TIMEOUT})
    )
    return running


async def connect(running: Running) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", running.service.port)


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    async with asyncio.timeout(GIVE_UP):
        return await reader.read()


def head(length: int) -> bytes:
    return (
        "POST /v1/person-queries HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def in_flight(running: Running) -> int:
    status, body = await running.get("/v1/diagnostics", OPERATOR_TOKEN)
    assert status == 200
    count: int = body["in_flight"]
    return count


async def test_a_connection_that_never_sends_anything_is_closed(
    start_service: ServiceFactory, simulator: Sim, tmp_path: Path
) -> None:
    running = await patient_service(start_service, simulator, tmp_path)
    reader, writer = await connect(running)
    assert await closed_by_server(reader) == b""
    writer.close()


async def test_headers_that_never_finish_are_cut_off_even_when_they_trickle_in(
    start_service: ServiceFactory, simulator: Sim, tmp_path: Path
) -> None:
    running = await patient_service(start_service, simulator, tmp_path)
    reader, writer = await connect(running)
    partial = b"POST /v1/person-queries HTTP/1.1\r\nHost: x\r\n"
    writer.write(partial)

    async def trickle() -> None:
        # One header byte at a time, each well within the timeout: a slow-loris caller.
        for _ in range(10_000):
            await asyncio.sleep(CLIENT_TIMEOUT / 5)
            writer.write(b"X")
            await writer.drain()

    dribbler = asyncio.create_task(trickle())
    try:
        assert await closed_by_server(reader) == b""
    finally:
        dribbler.cancel()
        writer.close()
    assert simulator.received == []


async def test_a_body_that_never_completes_is_answered_400_and_frees_its_query_slot(
    start_service: ServiceFactory, simulator: Sim, tmp_path: Path
) -> None:
    running = await patient_service(start_service, simulator, tmp_path)
    reader, writer = await connect(running)
    writer.write(head(100) + b'{"hetu": "01')
    await writer.drain()

    answer = await closed_by_server(reader)

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b'"code":"invalid_request"' in answer
    assert simulator.received == []
    assert await in_flight(running) == 0
    writer.close()
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")


async def test_callers_still_sending_their_body_take_no_query_slot(
    start_service: ServiceFactory, simulator: Sim, tmp_path: Path
) -> None:
    running: Running = await start_service(
        base_config(tmp_path, simulator.url, server={"client_timeout_seconds": 30, "max_in_flight": 2})
    )
    slow = [await connect(running) for _ in range(5)]
    for _, writer in slow:
        writer.write(head(100) + b"{")
        await writer.drain()
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")
    for _, writer in slow:
        writer.close()
