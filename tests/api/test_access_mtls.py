"""Callers authenticated by their TLS client certificate: by subject, by fingerprint, and the ones refused."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.conftest import TOKEN, Running, ServiceFactory, Sim, base_config
from tests.policy.helpers import bearer, call, caller


@dataclass(frozen=True)
class ClientCert:
    cert: Path
    key: Path
    subject: str
    fingerprint: str

    def context(self, ca_file: Path) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(ca_file))
        context.load_cert_chain(str(self.cert), str(self.key))
        return context


def issue(ca: trustme.CA, tmp_path: Path, name: str) -> ClientCert:
    issued = ca.issue_cert(f"{name}.example.fi", common_name=f"{name}.example.fi", organization_name="Kunta")
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    der = parsed.public_bytes(Encoding.DER)
    return ClientCert(cert, key, parsed.subject.rfc4514_string(), hashlib.sha256(der).hexdigest())


@pytest.fixture
def tls(tmp_path: Path, ca: trustme.CA) -> dict[str, Any]:
    server = ca.issue_cert("127.0.0.1", "localhost")
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "server.pem", "key": tmp_path / "server.key"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.cert_chain_pems[0].write_to_path(str(files["cert"]))
    server.private_key_pem.write_to_path(str(files["key"]))
    return {
        "files": files,
        "by_subject": issue(ca, tmp_path, "subjectapp"),
        "by_fingerprint": issue(ca, tmp_path, "fingerprintapp"),
        "operator": issue(ca, tmp_path, "opsapp"),
        "unregistered": issue(ca, tmp_path, "strangerapp"),
    }


@pytest.fixture
async def tls_service(
    simulator: Sim, start_service: ServiceFactory, tmp_path: Path, tls: dict[str, Any]
) -> AsyncIterator[Callable[[ClientCert | None], Running]]:
    """The service on HTTPS with client_ca_file; yields a factory of clients presenting a given certificate."""
    files = tls["files"]
    server_tls = {
        "cert_file": str(files["cert"]),
        "key_file": str(files["key"]),
        "client_ca_file": str(files["ca"]),
    }
    raw = base_config(tmp_path, simulator.url, server={"tls": server_tls})
    operator = tls["operator"]
    # Colons and capitals, as `openssl x509 -noout -fingerprint -sha256` prints it.
    operator_fp = ":".join(operator.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    for entry in (
        caller("subjectapp", "", cert_subject=tls["by_subject"].subject),
        caller("fingerprintapp", "", cert_fingerprint_sha256=tls["by_fingerprint"].fingerprint),
        caller("opsapp", "", cert_fingerprint_sha256=operator_fp, roles=["operator"]),
    ):
        del entry["token_sha256"]
        raw["callers"].append(entry)
    running: Running = await start_service(
        raw, scheme="https", ssl=ssl.create_default_context(cafile=str(files["ca"]))
    )
    sessions: list[aiohttp.ClientSession] = []

    def client(cert: ClientCert | None) -> Running:
        context = cert.context(files["ca"]) if cert else ssl.create_default_context(cafile=str(files["ca"]))
        sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)))
        return Running(running.service, running.base, sessions[-1], running.config)

    yield client
    for session in sessions:
        await session.close()


async def audited_caller(running: Running, xroad_id: str) -> str:
    rows = await running.service.store.search(xroad_id=xroad_id)
    return str(rows[0]["caller"])


@pytest.mark.parametrize(
    ("which", "name"), [("by_subject", "subjectapp"), ("by_fingerprint", "fingerprintapp")]
)
async def test_a_registered_client_certificate_authenticates_its_caller(
    tls_service: Any, tls: dict[str, Any], which: str, name: str
) -> None:
    running = tls_service(tls[which])
    status, body, _ = await call(running, "POST", "/v1/person-queries")
    assert (status, body["outcome"]) == (200, "found")
    assert await audited_caller(running, body["xroad_message_id"]) == name


async def test_a_fingerprint_with_colons_in_capitals_is_matched_and_roles_apply(
    tls_service: Any, tls: dict[str, Any]
) -> None:
    running = tls_service(tls["operator"])
    status, _, _ = await call(running, "GET", "/v1/diagnostics")
    assert status == 200
    status, body, _ = await call(running, "POST", "/v1/person-queries")
    assert (status, body["code"]) == (403, "forbidden")


async def test_a_certificate_registered_for_no_caller_is_401(
    tls_service: Any, tls: dict[str, Any], simulator: Sim
) -> None:
    running = tls_service(tls["unregistered"])
    for method, path in (
        ("POST", "/v1/person-queries"),
        ("GET", "/v1/diagnostics"),
        ("GET", "/v1/audit/records"),
    ):
        status, body, headers = await call(running, method, path)
        assert (status, body["code"]) == (401, "unauthenticated")
        assert headers["Content-Type"].startswith("application/problem+json")
    assert simulator.received == []


async def test_no_certificate_and_no_token_is_401_and_a_token_still_works_over_tls(
    tls_service: Any, simulator: Sim
) -> None:
    running = tls_service(None)
    status, body, _ = await call(running, "POST", "/v1/person-queries")
    assert (status, body["code"]) == (401, "unauthenticated")
    status, body, _ = await call(running, "POST", "/v1/person-queries", headers=bearer(TOKEN))
    assert (status, body["outcome"]) == (200, "found")


async def test_a_certificate_from_another_ca_never_gets_a_connection(
    tls_service: Any, tmp_path: Path, simulator: Sim
) -> None:
    stranger = issue(trustme.CA(), tmp_path, "otherca")
    running = tls_service(stranger)
    with pytest.raises(aiohttp.ClientError):
        await call(running, "POST", "/v1/person-queries")
    assert simulator.received == []
