"""Shared test helpers: sample records and the worker used by the multi-process tests."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from xroad_vtj.audit.chain import GENESIS
from xroad_vtj.audit.config import parse_audit_config
from xroad_vtj.audit.records import Intent, Outcome, Refusal
from xroad_vtj.audit.store import open_store
from xroad_vtj.audit.verify import ChainResult, check_chain

HETUS = ("010280-952L", "260991-999R", "020365-999P", "311211A9527")


def intent(
    n: int = 0,
    *,
    subject: str = HETUS[0],
    end_user: str = "officer-1",
    caller: str = "caseapp",
    requested_at: datetime | None = None,
) -> Intent:
    return Intent(
        caller=caller,
        end_user=end_user,
        purpose=f"case-{n}",
        product="PERUSSANOMA 1",
        client="FI-TEST/MUN/0101263-6/caseapp",
        service="FI-TEST/GOV/0245437-2/VTJkysely/HenkilonTunnusKysely/v1",
        xroad_message_id=f"msg-{n}",
        subject=subject,
        request_sha512="c2hhNTEy",
        requested_at=requested_at or datetime.now(UTC),
    )


def outcome(name: str = "found", **changes: Any) -> Outcome:
    fields: dict[str, Any] = {
        "outcome": name,
        "completed_at": datetime.now(UTC),
        "latency_seconds": 0.125,
        "http_status": 200,
        "error_code": None,
        "return_code": "0000",
        "fault_code": None,
        "fault_detail": None,
        "fault_family": None,
        "received_request_hash": "c2hhNTEy",
        "data_categories": ("name", "address"),
    }
    fields.update(changes)
    return Outcome(**fields)


def refusal(subject: str | None = "not-a-hetu", reason: str = "invalid_hetu") -> Refusal:
    return Refusal(
        caller="caseapp",
        end_user="officer-1",
        purpose="case-x",
        product="PERUSSANOMA 1",
        subject=subject,
        reason=reason,
        requested_at=datetime.now(UTC),
    )


def rsa_identity(key_path: Path, cert_path: Path) -> None:
    """An RSA-2048 key and self-signed certificate in PEM (the signing identity an organisation brings)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "audit-rsa")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def sqlite_rows(path: Path) -> list[tuple[int, int, str, bytes]]:
    conn = sqlite3.connect(path)
    try:
        return [
            tuple(r) for r in conn.execute("SELECT seq, period, body, hash FROM audit_record ORDER BY seq")
        ]
    finally:
        conn.close()


def sqlite_chain(path: Path) -> ChainResult:
    return check_chain(sqlite_rows(path), anchor_hash=GENESIS)


def append_worker(
    raw_config: dict[str, Any], base_dir: str, instance: str, count: int, out: Any = None
) -> None:
    """Run in another process: append ``count`` intents concurrently; report every returned audit id."""

    async def run() -> None:
        store = open_store(parse_audit_config(raw_config, Path(base_dir)), instance=instance)
        await store.open()
        try:

            async def one(i: int) -> None:
                audit_id = await store.append_intent(intent(i, end_user=instance))
                if out is not None:
                    out.write(audit_id + "\n")
                    out.flush()

            await asyncio.gather(*(one(i) for i in range(count)))
        finally:
            await store.close()

    asyncio.run(run())


if __name__ == "__main__":  # used by the SIGKILL test: append forever, print each durable audit id
    import json

    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    cfg = json.loads(sys.argv[1])

    async def forever() -> None:
        store = open_store(parse_audit_config(cfg, Path(sys.argv[2])), instance="doomed")
        await store.open()
        i = 0
        while True:
            ids = await asyncio.gather(*(store.append_intent(intent(i + k)) for k in range(20)))
            i += 20
            sys.stdout.write("".join(a + "\n" for a in ids))
            sys.stdout.flush()

    asyncio.run(forever())
