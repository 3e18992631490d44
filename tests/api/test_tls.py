"""The service talks to the security server over HTTPS with a client certificate (mTLS), as in production."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.conftest import Sim, base_config
from xroad_vtj.simulator.app import STATE, create_simulator_app, simulator_ssl_context
from xroad_vtj.simulator.run import RunningSimulator


def der_fingerprint(pem: bytes) -> bytes:
    cert = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()


@pytest.fixture
def tls_files(tmp_path: Path, ca: trustme.CA) -> dict[str, Path]:
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("caseapp.example.fi")
    files = {
        "ca": tmp_path / "ca.pem",
        "server_cert": tmp_path / "ss.pem",
        "server_key": tmp_path / "ss.key",
        "client_cert": tmp_path / "client.pem",
        "client_key": tmp_path / "client.key",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.cert_chain_pems[0].write_to_path(str(files["server_cert"]))
    server.private_key_pem.write_to_path(str(files["server_key"]))
    client.cert_chain_pems[0].write_to_path(str(files["client_cert"]))
    client.private_key_pem.write_to_path(str(files["client_key"]))
    return files


@pytest.fixture
async def tls_simulator(tls_files: dict[str, Path]) -> AsyncIterator[Sim]:
    fingerprint = der_fingerprint(tls_files["client_cert"].read_bytes())
    app = create_simulator_app(client_cert_fingerprints=[fingerprint])
    running = RunningSimulator(app)
    context = simulator_ssl_context(
        str(tls_files["server_cert"]), str(tls_files["server_key"]), str(tls_files["ca"])
    )
    await running.start("127.0.0.1", 0, context)
    yield Sim(f"https://127.0.0.1:{running.port}/", running.port, app[STATE])
    await running.stop()


async def test_query_over_mtls_to_the_security_server(
    tls_simulator: Sim, tls_files: dict[str, Path], start_service: object, tmp_path: Path
) -> None:
    tls = {
        "ca_file": str(tls_files["ca"]),
        "cert_file": str(tls_files["client_cert"]),
        "key_file": str(tls_files["client_key"]),
    }
    running = await start_service(
        base_config(
            tmp_path,
            tls_simulator.url,
            xroad={  # type: ignore[operator]
                "security_server_url": tls_simulator.url,
                "client": "FI-TEST/MUN/0101263-6/caseapp",
                "timeout_seconds": 5,
                "tls": tls,
            },
        )
    )
    status, body, _ = await running.query()
    assert (status, body["outcome"]) == (200, "found")
    assert tls_simulator.received == [body["xroad_message_id"]]


async def test_missing_client_certificate_is_the_security_servers_ssl_fault(
    tls_simulator: Sim, tls_files: dict[str, Path], start_service: object, tmp_path: Path
) -> None:
    running = await start_service(
        base_config(
            tmp_path,
            tls_simulator.url,
            xroad={  # type: ignore[operator]
                "security_server_url": tls_simulator.url,
                "client": "FI-TEST/MUN/0101263-6/caseapp",
                "tls": {"ca_file": str(tls_files["ca"])},
            },
        )
    )
    status, body, _ = await running.query()
    assert (status, body["code"]) == (502, "upstream_fault")
    assert "ssl_authentication_failed" in body["fault_code"]


async def test_untrusted_security_server_certificate_is_never_sent_to(
    tls_simulator: Sim, tls_files: dict[str, Path], start_service: object, tmp_path: Path
) -> None:
    other_ca = trustme.CA()
    other = tmp_path / "other-ca.pem"
    other_ca.cert_pem.write_to_path(str(other))
    running = await start_service(
        base_config(
            tmp_path,
            tls_simulator.url,
            xroad={  # type: ignore[operator]
                "security_server_url": tls_simulator.url,
                "client": "FI-TEST/MUN/0101263-6/caseapp",
                "timeout_seconds": 3,
                "tls": {
                    "ca_file": str(other),
                    "cert_file": str(tls_files["client_cert"]),
                    "key_file": str(tls_files["client_key"]),
                },
            },
        )
    )
    status, body, _ = await running.query()
    assert (status, body["code"]) == (502, "upstream_unavailable")
    assert tls_simulator.received == []


async def test_callers_may_authenticate_with_a_client_certificate(
    simulator: Sim, tls_files: dict[str, Path], start_service: object, tmp_path: Path, ca: trustme.CA
) -> None:
    caller_cert = ca.issue_cert("caller.example.fi")
    cert_path, key_path = tmp_path / "caller.pem", tmp_path / "caller.key"
    caller_cert.cert_chain_pems[0].write_to_path(str(cert_path))
    caller_cert.private_key_pem.write_to_path(str(key_path))
    fingerprint = der_fingerprint(cert_path.read_bytes()).hex()
    raw = base_config(
        tmp_path,
        simulator.url,
        server={
            "host": "127.0.0.1",
            "port": 0,
            "metrics_port": 0,
            "tls": {
                "cert_file": str(tls_files["server_cert"]),
                "key_file": str(tls_files["server_key"]),
                "client_ca_file": str(tls_files["ca"]),
            },
        },
    )
    raw["callers"].append(
        {"name": "certapp", "cert_fingerprint_sha256": fingerprint, "products": ["PERUSSANOMA 1"]}
    )
    client_context = ssl.create_default_context(cafile=str(tls_files["ca"]))
    client_context.load_cert_chain(str(cert_path), str(key_path))
    running = await start_service(raw, scheme="https", ssl=client_context)  # type: ignore[operator]
    status, body, _ = await running.query(token=None)
    assert (status, body["outcome"]) == (200, "found")
    rows = await running.service.store.search(xroad_id=body["xroad_message_id"])
    assert rows[0]["caller"] == "certapp"
