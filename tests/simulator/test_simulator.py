"""The simulator's own promises: every operation on both routes, and knobs that end when their count is used up."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import aiohttp
import pytest
from lxml import etree

from tests.conftest import Running, Sim
from xroad_vtj.simulator.app import Knobs, SimulatorState, operation_answer
from xroad_vtj.simulator.objects import BUILDINGS, PROPERTIES
from xroad_vtj.simulator.persons import PERSONS
from xroad_vtj.vtj import Outcome, is_valid_hetu, parse_henkilon_tunnus_kysely_response
from xroad_vtj.vtj.identifiers import parse_building_id, parse_property_id, parse_satu
from xroad_vtj.vtj.operations import OPERATIONS, PERSON_QUERY, SCHEMA_QUERY, parse_generic_response
from xroad_vtj.xroad import ServiceId


@pytest.mark.parametrize(
    ("mode", "code"), [("vtj_return_code", "upstream_rejected"), ("other_person", "inconsistent_response")]
)
async def test_count_limits_the_vtj_answer_modes_too(
    running: Running, simulator: Sim, mode: str, code: str
) -> None:
    simulator.knobs(mode=mode, return_code="0003", count=1)
    status, body, _ = await running.query()
    assert (status, body["code"]) == (502, code)
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")


def test_test_data_uses_temporary_identifiers_and_well_formed_keys() -> None:
    for person in PERSONS.values():
        assert is_valid_hetu(person.hetu) and 900 <= int(person.hetu[7:10]) <= 999
        if person.satu:
            parse_satu(person.satu)
        for relative in (*person.guardians, *person.dependants, *person.children):
            assert relative in PERSONS
    for building in BUILDINGS.values():
        parse_building_id(building.building_id)
        assert building.property_id in PROPERTIES
    for prop in PROPERTIES.values():
        assert parse_property_id(prop.property_id) == prop.property_id


def test_the_simulator_offers_every_operation_under_the_configured_provider() -> None:
    service = ServiceId.parse("FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1")
    state = SimulatorState(service=service, username="u", password="p")
    assert {s.service_code for s in state.services} == set(OPERATIONS)
    assert {s.service_version for s in state.services} == {"v1"}


def credentials(**fields: str) -> dict[str, str]:
    return {
        "SoSoNimi": "PERUSSANOMA 1",
        "Kayttajatunnus": "u",
        "Salasana": "p",
        "Loppukayttaja": "e",
        **fields,
    }


def test_wrong_credentials_are_refused_for_every_query_operation() -> None:
    state = SimulatorState(
        service=ServiceId.parse("FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1"),
        username="u",
        password="p",
        knobs=Knobs(),
    )
    answer = operation_answer(
        state, "RakennuksenTunnusKysely", credentials(Salasana="x", Rakennustunnus="100012345A"), "normal"
    )
    assert parse_generic_response(answer, "RakennuksenTunnusKysely").return_code == "0003"
    answer = operation_answer(state, PERSON_QUERY, credentials(Henkilotunnus="010280-952L"), "normal")
    assert parse_henkilon_tunnus_kysely_response(answer).outcome is Outcome.FOUND
    schema = operation_answer(state, SCHEMA_QUERY, {"SoSoNimi": "perussanoma 1", "Laji": "1"}, "normal")
    assert b"xs:schema" in etree.tostring(schema)


async def post_direct(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, data=data, headers=headers) as response:
        return response.status, await response.read()


@pytest.fixture
async def direct_sim() -> Any:
    from xroad_vtj.simulator.app import STATE, create_simulator_app
    from xroad_vtj.simulator.run import RunningSimulator

    app = create_simulator_app(route="direct")
    running = RunningSimulator(app)
    await running.start("127.0.0.1", 0)
    yield Sim(f"http://127.0.0.1:{running.port}/", running.port, app[STATE])
    await running.stop()


async def test_the_direct_simulator_checks_soap_action_against_the_operation(direct_sim: Sim) -> None:
    from xroad_vtj.vtj.soso import build_soso_request

    sent = build_soso_request(
        PERSON_QUERY,
        product="PERUSSANOMA 1",
        username="demo-user",
        password="demo-password",
        end_user="e",
        fields=[("Henkilotunnus", "010280-952L")],
    )
    status, body = await post_direct(
        direct_sim.url,
        sent,
        {"Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/TeeRakennusTunnusKysely"'},
    )
    assert status == 500 and b"SOAPAction" in body
    status, body = await post_direct(
        direct_sim.url,
        sent,
        {"Content-Type": "text/xml", "SOAPAction": '"http://tempuri.org/TeeHenkilonTunnusKysely"'},
    )
    assert status == 200 and b"TeeHenkilonTunnusKyselyResult" in body and b"Testinen" in body
    assert direct_sim.state.received_operations == ["TeeHenkilonTunnusKysely"]


def test_simulate_on_the_direct_route_without_tls_is_one_line_on_stderr() -> None:
    # A real process: the CLI configures logging onto its own stderr.
    done = subprocess.run(
        [sys.executable, "-m", "xroad_vtj", "simulate", "--route", "direct", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--tls-cert" in done.stderr
