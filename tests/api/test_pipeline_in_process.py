"""The query pipeline without sockets: QueryService over the in-process simulator double, real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import base_config
from xroad_vtj.audit.store import open_store
from xroad_vtj.config import Config, parse_config
from xroad_vtj.errors import (
    InvalidUpstreamResponse,
    NonUniqueSearchNotAllowed,
    RequestHashMismatch,
    UpstreamFault,
)
from xroad_vtj.metrics import Metrics
from xroad_vtj.policy import Policy
from xroad_vtj.product_schemas import ProductSchemas
from xroad_vtj.query import QueryService, VtjQuery
from xroad_vtj.simulator.app import SimulatorState
from xroad_vtj.simulator.inprocess import InProcessTransport
from xroad_vtj.xroad import ServiceId

COMMON = {"product": "PERUSSANOMA 1", "end_user": "tester@example.fi", "purpose": "CASE-2026-1"}
QUERIES = {
    "hetu": VtjQuery.person(hetu="010280-952L", **COMMON),
    "satu": VtjQuery.person(satu="99999952L", **COMMON),
    "building": VtjQuery.building(building_id="100012345A", apartment_id="A 1", **COMMON),
    "property": VtjQuery.property(property_id="09140300010005", **COMMON),
    "search": VtjQuery.search(
        object_="building", criteria_xml="<H><Kuntanumero>091</Kuntanumero></H>", **COMMON
    ),
}


class Pipeline:
    def __init__(self, config: Config, route: str) -> None:
        self.config = config
        self.state = SimulatorState(
            service=ServiceId.parse("FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1"),
            username="demo-user",
            password="demo-password",
            route=route,
        )
        self.transport = InProcessTransport(self.state)
        self.metrics = Metrics()
        self.store = open_store(config.audit, instance="test", metrics=self.metrics)
        self.policy = Policy(config.callers, self.store)
        self.service = QueryService(config, self.store, self.transport, self.metrics, self.policy)
        self.caller = replace(config.callers[0], non_unique_search=True)

    async def run(self, query: VtjQuery) -> dict[str, Any]:
        return await self.service.run(self.caller, query)


@pytest.fixture(params=["xroad", "direct"])
async def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Pipeline]:
    raw = base_config(tmp_path, "https://ss.example.fi/")
    if request.param == "direct":
        raw["vtj"]["route"] = "direct"
        raw["vtj"]["direct"] = {
            "url": "https://vtj.example.fi/",
            "tls": {"cert_file": "c.pem", "key_file": "k.pem"},
        }
    made = Pipeline(parse_config(raw, tmp_path, environ={}), request.param)
    await made.store.open()
    yield made
    await made.store.close()


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_every_operation_runs_through_the_one_pipeline(pipeline: Pipeline, name: str) -> None:
    answer = await pipeline.run(QUERIES[name])
    assert answer["outcome"] == "found"
    direct = pipeline.state.route == "direct"
    assert (answer["xroad_message_id"] is None) == direct
    (row,) = await pipeline.store.search(xroad_id=answer["message_id"])
    query = QUERIES[name]
    assert (row["operation"], row["subject_kind"], row["subject"], row["outcome"]) == (
        query.operation,
        query.subject_kind,
        query.subject,
        "found",
    )
    assert row["route"] == pipeline.state.route
    assert len(pipeline.transport.sent) == 1


async def test_a_search_needs_the_callers_permission_and_sends_nothing_without_it(pipeline: Pipeline) -> None:
    pipeline.caller = replace(pipeline.caller, non_unique_search=False)
    with pytest.raises(NonUniqueSearchNotAllowed):
        await pipeline.run(QUERIES["search"])
    assert pipeline.transport.sent == []


async def test_failures_after_sending_have_their_outcome_recorded(pipeline: Pipeline) -> None:
    pipeline.state.knobs.update({"mode": "fault", "count": 1})
    with pytest.raises(UpstreamFault):
        await pipeline.run(QUERIES["hetu"])
    pipeline.state.knobs.update({"mode": "malformed_xml", "count": 1})
    with pytest.raises(InvalidUpstreamResponse):
        await pipeline.run(QUERIES["building"])
    rows = await pipeline.store.search()
    assert [r["outcome"] for r in rows] == ["upstream_fault", "invalid_upstream_response"]


async def test_a_wrong_request_hash_is_caught_on_the_x_road_route_only(pipeline: Pipeline) -> None:
    pipeline.state.knobs.update({"mode": "wrong_request_hash", "count": 1})
    if pipeline.state.route == "xroad":
        with pytest.raises(RequestHashMismatch):
            await pipeline.run(QUERIES["property"])
    else:  # no requestHash on the direct route: TLS protects the exchange
        assert (await pipeline.run(QUERIES["property"]))["outcome"] == "found"


async def test_product_schemas_come_through_the_same_double(pipeline: Pipeline) -> None:
    schemas = ProductSchemas(pipeline.config, pipeline.transport)
    document = await schemas.schema(pipeline.caller, "perussanoma 1", 3)
    assert b"PERUSSANOMA 1, laji 3" in document
    assert await schemas.schema(pipeline.caller, "PERUSSANOMA 1", 3) == document
    assert len(pipeline.transport.sent) == 1


def test_a_satu_answer_that_echoes_another_satu_is_inconsistent() -> None:
    from lxml import etree

    from xroad_vtj.config import CallerConfig
    from xroad_vtj.errors import InconsistentResponse
    from xroad_vtj.query import read_person
    from xroad_vtj.simulator.persons import PERSONS, person_body

    caller = CallerConfig(name="t", token_sha256=b"x" * 32)
    answer = person_body({"SahkoinenAsiointitunnus": "99999927Y"}, PERSONS["311211A9527"], "PERUSSANOMA 1")
    answer = etree.fromstring(etree.tostring(answer))
    with pytest.raises(InconsistentResponse):
        read_person(answer, VtjQuery.person(satu="99999952L", **COMMON), caller)
    assert read_person(answer, VtjQuery.person(satu="99999927Y", **COMMON), caller).outcome.value == "found"
