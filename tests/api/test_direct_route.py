"""The direct route end to end on loopback: DVV's SoSo service (the simulator) over real TLS with client certs."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.conftest import OPERATOR_TOKEN, TOKEN, Running, ServiceFactory, Sim, base_config, sha
from tests.policy.helpers import assert_schema
from xroad_vtj.config import parse_config
from xroad_vtj.errors import ConfigError
from xroad_vtj.simulator.app import STATE, create_simulator_app, simulator_ssl_context
from xroad_vtj.simulator.run import RunningSimulator

SEARCH_TOKEN = "test-token-direct-searcher"


@pytest.fixture
def tls_files(tmp_path: Path, ca: trustme.CA) -> dict[str, Path]:
    server = ca.issue_cert("localhost")
    client = ca.issue_cert("organisation.example.fi")
    files = {
        name: tmp_path / f"{name}.pem"
        for name in ("ca", "server_cert", "server_key", "client_cert", "client_key")
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.cert_chain_pems[0].write_to_path(str(files["server_cert"]))
    server.private_key_pem.write_to_path(str(files["server_key"]))
    client.cert_chain_pems[0].write_to_path(str(files["client_cert"]))
    client.private_key_pem.write_to_path(str(files["client_key"]))
    return files


@pytest.fixture
async def direct_simulator(tls_files: dict[str, Path]) -> AsyncIterator[Sim]:
    app = create_simulator_app(route="direct")
    running = RunningSimulator(app)
    context = simulator_ssl_context(
        str(tls_files["server_cert"]),
        str(tls_files["server_key"]),
        str(tls_files["ca"]),
        require_client_cert=True,
    )
    await running.start("127.0.0.1", 0, context)
    yield Sim(f"https://localhost:{running.port}/", running.port, app[STATE])
    await running.stop()


def direct_config(tmp_path: Path, sim: Sim, tls: dict[str, Path], **tls_changes: Any) -> dict[str, Any]:
    raw = base_config(tmp_path, sim.url)
    del raw["xroad"]["security_server_url"]  # the direct route needs no security server
    raw["vtj"]["route"] = "direct"
    raw["vtj"]["direct"] = {
        "url": sim.url + "SoSoAdapterService",  # DVV serves under a path
        "tls": {
            "ca_file": str(tls["ca"]),
            "cert_file": str(tls["client_cert"]),
            "key_file": str(tls["client_key"]),
            **tls_changes,
        },
    }
    raw["callers"][0]["products"] = ["PERUSSANOMA 1", "PERUSSANOMA 3"]
    raw["callers"].append(
        {
            "name": "searcher",
            "token_sha256": sha(SEARCH_TOKEN),
            "products": ["PERUSSANOMA 1"],
            "non_unique_search": True,
        }
    )
    return raw


@pytest.fixture
async def direct(
    direct_simulator: Sim, tls_files: dict[str, Path], start_service: ServiceFactory, tmp_path: Path
) -> Running:
    running: Running = await start_service(direct_config(tmp_path, direct_simulator, tls_files))
    return running


async def post(running: Running, path: str, body: dict[str, Any], token: str = TOKEN) -> tuple[int, Any]:
    payload = {"end_user": "tester@example.fi", "purpose": "CASE-2026-1", **body}
    async with running.session.post(
        f"{running.base}{path}", json=payload, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        answer = await response.json(content_type=None)
    # Every answer and every problem is what the published OpenAPI document promises.
    if response.status != 200:
        assert_schema("Problem", answer)
    else:
        assert_schema("QueryAnswer" if path == "/v1/person-queries" else "DataAnswer", answer)
    return response.status, answer


def spy_on_posts(running: Running) -> list[tuple[bytes, dict[str, Any]]]:
    transport = running.service.transport
    real_post = transport.post
    sent: list[tuple[bytes, dict[str, Any]]] = []

    async def post(body: bytes, **kwargs: Any) -> Any:
        sent.append((body, kwargs))
        return await real_post(body, **kwargs)

    transport.post = post  # type: ignore[method-assign]
    return sent


async def test_a_person_query_goes_direct_with_a_uuid_message_id_and_is_audited_as_direct(
    direct: Running, direct_simulator: Sim
) -> None:
    sent = spy_on_posts(direct)
    status, body = await post(direct, "/v1/person-queries", {"hetu": "010280-952L"})
    assert (status, body["outcome"], body["return_code"]) == (200, "found", "0000")
    assert body["person"]["last_name"] == "Testinen"
    assert body["xroad_message_id"] is None
    assert str(uuid.UUID(body["message_id"])) == body["message_id"]
    assert direct_simulator.state.received_operations == ["TeeHenkilonTunnusKysely"]
    ((request, kwargs),) = sent
    assert kwargs == {"soap_action": '"http://tempuri.org/TeeHenkilonTunnusKysely"'}
    assert b"x-road" not in request.lower()
    (row,) = await direct.service.store.search(subject="010280-952L")
    assert (row["route"], row["operation"], row["outcome"]) == ("direct", "HenkilonTunnusKysely", "found")
    # The record keeps our own message id in its message-id field: `audit search --xroad-id` and `prove` find it.
    assert row["xroad_message_id"] == body["message_id"]
    (again,) = await direct.service.store.search(xroad_id=body["message_id"])
    assert again["audit_id"] == row["audit_id"]
    evidence = await direct.service.store.prove(body["message_id"])
    assert body["message_id"].encode() in evidence
    assert row["request_sha512"] == base64.b64encode(hashlib.sha512(request).digest()).decode()
    assert row["received_request_hash"] is None
    assert row["service"] == direct_simulator.url + "SoSoAdapterService"


@pytest.mark.parametrize(
    ("path", "body", "element", "token"),
    [
        ("/v1/person-queries", {"satu": "99999952L"}, "TeeHenkilonTunnusKysely", TOKEN),
        ("/v1/building-queries", {"building_id": "100012345A"}, "TeeRakennusTunnusKysely", TOKEN),
        ("/v1/property-queries", {"property_id": "91-403-1-5"}, "TeeKiinteistoTunnusKysely", TOKEN),
        (
            "/v1/identification-searches",
            {"object": "person", "criteria_xml": "<Haku><Sukunimi>Testinen</Sukunimi></Haku>"},
            "TeeHenkilonTunnistusKysely",
            SEARCH_TOKEN,
        ),
        (
            "/v1/identification-searches",
            {"object": "building", "criteria_xml": "<Haku><Postinumero>00100</Postinumero></Haku>"},
            "TeeRakennuksenTunnistusKysely",
            SEARCH_TOKEN,
        ),
        (
            "/v1/identification-searches",
            {"object": "property", "criteria_xml": "<Haku><Kuntanumero>091</Kuntanumero></Haku>"},
            "TeeKiinteistonTunnistusKysely",
            SEARCH_TOKEN,
        ),
    ],
)
async def test_every_operation_is_served_on_the_direct_route(
    direct: Running, direct_simulator: Sim, path: str, body: dict[str, Any], element: str, token: str
) -> None:
    status, answer = await post(direct, path, body, token)
    assert (status, answer["outcome"], answer["xroad_message_id"]) == (200, "found", None)
    assert direct_simulator.state.received_operations == [element]
    rows = await direct.service.store.search()
    assert [r["route"] for r in rows] == ["direct"]


async def test_not_found_and_refusals_read_the_same_on_the_direct_route(
    direct: Running, direct_simulator: Sim
) -> None:
    status, body = await post(direct, "/v1/person-queries", {"hetu": "150785-9939"})
    assert (status, body["outcome"], body["return_code"]) == (200, "not_found", "0001")
    direct_simulator.knobs(mode="vtj_return_code", return_code="0003", count=1)
    status, problem = await post(direct, "/v1/building-queries", {"building_id": "100012345A"})
    assert (status, problem["code"], problem["return_code"]) == (502, "upstream_rejected", "0003")
    assert "xroad_message_id" not in problem and problem["message_id"]
    status, body = await post(direct, "/v1/building-queries", {"building_id": "100012345A"})
    assert (status, body["outcome"]) == (200, "found")  # count=1: the mode is over


async def test_a_soap_fault_is_an_upstream_fault_with_its_outcome_recorded(
    direct: Running, direct_simulator: Sim
) -> None:
    direct_simulator.knobs(mode="fault", count=1)
    status, problem = await post(direct, "/v1/person-queries", {"hetu": "010280-952L"})
    assert (status, problem["code"]) == (502, "upstream_fault")
    (row,) = await direct.service.store.search(subject="010280-952L")
    assert (row["route"], row["outcome"], row["error_code"]) == ("direct", "upstream_fault", "upstream_fault")


async def test_a_product_schema_comes_through_the_direct_route(
    direct: Running, direct_simulator: Sim
) -> None:
    async with direct.session.get(
        f"{direct.base}/v1/products/PERUSSANOMA%201/schema?kind=1",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as response:
        assert response.status == 200
        assert b"PERUSSANOMA 1, laji 1" in await response.read()
    assert direct_simulator.state.received_operations == ["HaeTuotteenSkeema"]


async def test_without_the_organisations_certificate_nothing_is_answered(
    direct_simulator: Sim,
    tls_files: dict[str, Path],
    start_service: ServiceFactory,
    tmp_path: Path,
    ca: trustme.CA,
) -> None:
    other = trustme.CA().issue_cert("stranger.example.fi")
    other.cert_chain_pems[0].write_to_path(str(tmp_path / "stranger.pem"))
    other.private_key_pem.write_to_path(str(tmp_path / "stranger.key"))
    raw = direct_config(
        tmp_path,
        direct_simulator,
        tls_files,
        cert_file=str(tmp_path / "stranger.pem"),
        key_file=str(tmp_path / "stranger.key"),
    )
    running = await start_service(raw)
    status, problem = await post(running, "/v1/person-queries", {"hetu": "010280-952L"})
    assert status == 502
    assert problem["code"] in ("upstream_unavailable", "outcome_unknown")
    assert direct_simulator.state.received_operations == []


async def test_a_server_certificate_for_another_name_is_refused_before_sending(
    direct_simulator: Sim, tls_files: dict[str, Path], start_service: ServiceFactory, tmp_path: Path
) -> None:
    raw = direct_config(tmp_path, direct_simulator, tls_files)
    raw["vtj"]["direct"]["url"] = (
        f"https://127.0.0.1:{direct_simulator.port}/"  # the certificate names localhost
    )
    running = await start_service(raw)
    status, problem = await post(running, "/v1/person-queries", {"hetu": "010280-952L"})
    assert (status, problem["code"]) == (502, "upstream_unavailable")
    assert direct_simulator.state.request_count == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"direct": None}, "vtj.direct: required"),
        (
            {"direct": {"url": "http://vtj.example.fi/", "tls": {"cert_file": "c", "key_file": "k"}}},
            "https://",
        ),
        ({"direct": {"url": "https://vtj.example.fi/", "tls": {"ca_file": "ca"}}}, "cert_file"),
        ({"route": "carrier-pigeon"}, "vtj.route"),
        (
            {
                "direct": {
                    "url": "https://vtj.example.fi/",
                    "tls": {"cert_file": "c", "key_file": "k"},
                    "x": 1,
                }
            },
            "vtj.direct.x",
        ),
    ],
)
def test_direct_route_configuration_is_checked_at_start(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    raw = base_config(tmp_path, "https://ss.example.fi/")
    raw["vtj"]["route"] = "direct"
    raw["vtj"].update(change)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, tmp_path, environ={})
    assert message in caught.value.detail


def test_on_the_direct_route_queries_go_to_the_direct_url_whatever_security_server_url_says(
    tmp_path: Path,
) -> None:
    raw = base_config(tmp_path, "http://ss.example.fi/")  # a left-over security server, plain http
    raw["vtj"]["route"] = "direct"
    raw["vtj"]["direct"] = {
        "url": "https://vtj.example.fi/SoSoAdapterService",
        "tls": {"cert_file": "c.pem", "key_file": "k.pem"},
    }
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_text("x")
    config = parse_config(raw, tmp_path, environ={})
    assert config.xroad.security_server_url == "https://vtj.example.fi/SoSoAdapterService"


async def run_check_on(tmp_path: Path, raw: dict[str, Any]) -> tuple[int, str]:
    import io

    import yaml

    from xroad_vtj.check import run_check

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = io.StringIO()
    return await run_check(str(path), out), out.getvalue()


async def test_check_proves_the_direct_route_with_a_schema_request(
    direct_simulator: Sim, tls_files: dict[str, Path], tmp_path: Path
) -> None:
    code, report = await run_check_on(tmp_path, direct_config(tmp_path, direct_simulator, tls_files))
    assert code == 0, report
    assert "organisation certificate (direct route)" in report
    assert "answered HaeTuotteenSkeema" in report
    assert direct_simulator.state.received_operations == ["HaeTuotteenSkeema"]


async def test_check_fails_on_the_direct_route_with_a_certificate_dvv_does_not_know(
    direct_simulator: Sim, tls_files: dict[str, Path], tmp_path: Path
) -> None:
    stranger = trustme.CA().issue_cert("stranger.example.fi")
    stranger.cert_chain_pems[0].write_to_path(str(tmp_path / "stranger.pem"))
    stranger.private_key_pem.write_to_path(str(tmp_path / "stranger.key"))
    raw = direct_config(
        tmp_path,
        direct_simulator,
        tls_files,
        cert_file=str(tmp_path / "stranger.pem"),
        key_file=str(tmp_path / "stranger.key"),
    )
    code, report = await run_check_on(tmp_path, raw)
    assert code == 1
    assert "FAIL" in report and "what to do" in report


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("billion_laughs", "invalid_upstream_response"),
        ("external_entity", "invalid_upstream_response"),
        ("malformed_xml", "invalid_upstream_response"),
        ("non_soap_502", "invalid_upstream_response"),
        ("other_person", "inconsistent_response"),
    ],
)
async def test_hostile_or_broken_direct_answers_are_refused_and_recorded(
    direct: Running, direct_simulator: Sim, mode: str, code: str
) -> None:
    direct_simulator.knobs(mode=mode, count=1)
    status, problem = await post(direct, "/v1/person-queries", {"hetu": "010280-952L"})
    assert (status, problem["code"]) == (502, code)
    if mode == "non_soap_502":  # named by its status, not as a broken X-Road message
        assert problem["detail"] == "HTTP 502 without a SOAP answer"
    (row,) = await direct.service.store.search(subject="010280-952L")
    assert (row["route"], row["outcome"]) == ("direct", code)


async def test_the_route_probe_stays_off_on_the_direct_route(
    direct_simulator: Sim, tls_files: dict[str, Path], start_service: ServiceFactory, tmp_path: Path
) -> None:
    # allowedMethods is an X-Road metaservice: on the direct route it would only ever report the route down.
    raw = direct_config(tmp_path, direct_simulator, tls_files)
    raw["xroad"]["route_probe_seconds"] = 5
    running = await start_service(raw)
    status, body = await running.get("/v1/diagnostics", OPERATOR_TOKEN)
    assert status == 200
    assert body["route"] == "direct"
    assert body["route_probe"]["enabled"] is False and body["route_probe"]["last"] is None
    async with running.session.get(f"http://127.0.0.1:{running.service.metrics_port}/metrics") as r:
        assert "xroad_vtj_route_" not in await r.text()
    status, _ = await post(running, "/v1/person-queries", {"hetu": "010280-952L"})
    assert status == 200
    assert direct_simulator.state.received_operations == ["TeeHenkilonTunnusKysely"]
