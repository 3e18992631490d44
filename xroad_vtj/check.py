"""``xroad-vtj check``: is this configuration ready for production?

Validates the configuration and every file it names, shows certificate subjects and expiry, warns about secrets
written into the file, secret files others can read, plain HTTP and an audit signing key beside the database,
connects to the audit store (naming why it cannot), then calls the X-Road metaservice ``allowedMethods``
through the security server with the configured TLS, as the configured client, and confirms that the VTJ
service is among the allowed ones. Stops at the first real problem with a one-line cause and what to do; exit
0 only when everything passed.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from cryptography import x509

from xroad_vtj.audit import sqlite_store
from xroad_vtj.audit.pg_diagnose import diagnose
from xroad_vtj.config import CallerConfig, Config, load_config
from xroad_vtj.errors import (
    ConfigError,
    OutcomeUnknown,
    UpstreamFault,
    UpstreamTimeout,
    UpstreamUnavailable,
    XRoadVtjError,
)
from xroad_vtj.secret_warnings import deployment_warnings
from xroad_vtj.transport import Transport, deadline_post
from xroad_vtj.xroad import (
    Headers,
    build_metaservice_request,
    new_message_id,
    parse_message,
    parse_service_list,
    verify_response,
)


@dataclass(frozen=True, slots=True)
class Problem(Exception):
    cause: str
    remedy: str


def _certificate_line(label: str, path: Path) -> str:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        raise Problem(
            f"{label} {path} is not a readable PEM certificate", "point the key at a PEM file"
        ) from None
    not_after = cert.not_valid_after_utc
    if not_after <= datetime.now(UTC):
        raise Problem(f"{label} expired on {not_after:%Y-%m-%d}", "renew the certificate")
    days = (not_after - datetime.now(UTC)).days
    return f"{label}: {cert.subject.rfc4514_string()}, valid until {not_after:%Y-%m-%d} ({days} days)"


def _readable(label: str, path: Path | None) -> None:
    if path is not None and not os.access(path, os.R_OK):
        raise Problem(f"{label} {path} cannot be read", "check the path and the file's permissions")


def check_files(config: Config) -> list[str]:
    lines: list[str] = []
    tls = config.xroad.tls
    if tls is not None:
        for label, path in (
            ("xroad.tls.ca_file", tls.ca_file),
            ("xroad.tls.cert_file", tls.cert_file),
            ("xroad.tls.key_file", tls.key_file),
        ):
            _readable(label, path)
        if tls.ca_file is not None:
            lines.append(_certificate_line("security server CA", tls.ca_file))
        if tls.cert_file is not None:
            lines.append(_certificate_line("client certificate", tls.cert_file))
    direct = config.vtj.direct
    if config.vtj.route == "direct" and direct is not None:
        for label, path in (
            ("vtj.direct.tls.ca_file", direct.tls.ca_file),
            ("vtj.direct.tls.cert_file", direct.tls.cert_file),
            ("vtj.direct.tls.key_file", direct.tls.key_file),
        ):
            _readable(label, path)
        if direct.tls.cert_file is not None:
            lines.append(_certificate_line("organisation certificate (direct route)", direct.tls.cert_file))
    server_tls = config.server.tls
    if server_tls is not None:
        _readable("server.tls.cert_file", server_tls.cert_file)
        _readable("server.tls.key_file", server_tls.key_file)
        _readable("server.tls.client_ca_file", server_tls.client_ca_file)
        lines.append(_certificate_line("listener certificate", server_tls.cert_file))
    audit = config.audit
    for label, path in (
        ("audit.data_key_file", audit.data_key_file),
        ("audit.signing_key_file", audit.signing_key_file),
    ):
        if path is not None and path.exists():
            _readable(label, path)
    if audit.signing_cert_file is not None and audit.signing_cert_file.exists():
        lines.append(_certificate_line("audit signing certificate", audit.signing_cert_file))
    if audit.backend == "sqlite" and audit.sqlite_path is not None:
        directory = audit.sqlite_path.parent
        probe = directory if directory.exists() else directory.parent
        if not os.access(probe, os.W_OK):
            raise Problem(f"audit database directory {directory} is not writable", "fix audit.sqlite_path")
    return lines


async def check_direct_route(config: Config) -> str:
    """The direct route has no metaservice: fetch the default product's schema (HaeTuotteenSkeema), which
    proves TLS with the organisation's certificate, the server's name and the service's answer."""
    from xroad_vtj.product_schemas import ProductSchemas

    direct = config.vtj.direct
    assert direct is not None
    transport = Transport.for_config(config)
    await transport.start()
    caller = CallerConfig(name="xroad-vtj-check", products=(config.vtj.default_product,))
    try:
        await ProductSchemas(config, transport).schema(caller, config.vtj.default_product, 1)
    except UpstreamUnavailable:
        raise Problem(
            f"cannot connect to the direct service at {direct.url}",
            "check vtj.direct.url, vtj.direct.tls (CA, certificate and key) and the network",
        ) from None
    except (UpstreamTimeout, OutcomeUnknown):
        raise Problem(
            "the direct service did not answer (or refused the client certificate)",
            "check that DVV has registered this certificate (vtj.direct.tls.cert_file)",
        ) from None
    except XRoadVtjError as error:
        raise Problem(
            f"unusable answer from the direct service ({error.code})",
            "check vtj.direct.url and vtj.default_product",
        ) from None
    finally:
        await transport.close()
    return f"direct route: {direct.url} answered HaeTuotteenSkeema for {config.vtj.default_product}"


def check_audit_store(config: Config) -> str:
    """Connect to the audit store as the service would: the schema's version and the role's rights."""
    audit = config.audit.with_defaults()
    if audit.backend == "postgresql":
        assert audit.dsn is not None  # the configuration requires it
        cause = diagnose(audit.dsn)
        if cause is not None:
            raise Problem(f"audit store: {cause}", "fix audit.dsn or the database (see docs/audit.md)")
        return "audit store: PostgreSQL reachable, schema migrated, the role may read and append"
    path = audit.sqlite_path
    assert path is not None
    if not path.exists():
        return f"audit store: SQLite {path} will be created at the first start"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        raise Problem(
            f"audit store: {path} cannot be read as an SQLite database", "check audit.sqlite_path"
        ) from None
    if version > sqlite_store.SCHEMA_VERSION:
        raise Problem(
            f"audit store: {path} has schema version {version}, newer than this version knows "
            f"({sqlite_store.SCHEMA_VERSION})",
            "run the newer xroad-vtj version",
        )
    return f"audit store: SQLite {path}, schema version {version}"


async def check_route(config: Config) -> str:
    if config.vtj.route == "direct":
        return await check_direct_route(config)
    service = config.vtj.service
    headers = Headers(
        client=config.xroad.client,
        service=service.with_code("allowedMethods"),
        id=new_message_id(),
        user_id="xroad-vtj-check",
    )
    sent = build_metaservice_request(headers)
    transport = Transport(config.xroad)
    await transport.start()
    try:
        reply = await deadline_post(transport, sent, config.xroad.timeout_seconds)
        message = parse_message(reply.body, reply.content_type, max_bytes=config.xroad.max_response_bytes)
        body = verify_response(message, sent, headers)
    except UpstreamUnavailable:
        raise Problem(
            f"cannot connect to the security server at {config.xroad.security_server_url}",
            "check xroad.security_server_url, the network policy and that the security server runs",
        ) from None
    except (UpstreamTimeout, OutcomeUnknown):
        raise Problem("the security server did not answer", "check the security server's health") from None
    except UpstreamFault as fault:
        code = str(fault.extra.get("fault_code", ""))
        remedy = "see the security server's proxy log for faultDetail " + str(
            fault.extra.get("fault_detail", "")
        )
        if "ssl" in code.lower():
            remedy = "register this client certificate on the security server and check xroad.tls"
        raise Problem(f"the security server answered with fault {code}", remedy) from None
    except XRoadVtjError as error:
        raise Problem(
            f"unusable answer from the security server ({error.code})", "check the security server"
        ) from None
    finally:
        await transport.close()
    allowed = parse_service_list(body)
    if service not in allowed:
        raise Problem(
            f"client {config.xroad.client} may not call {service}",
            "ask the service provider (DVV) to grant access, and check vtj.service",
        )
    return f"allowedMethods: {config.xroad.client} may call {service}"


async def run_check(path: str, out: TextIO) -> int:
    try:
        config = load_config(path)
    except ConfigError as error:
        out.write(f"FAIL configuration: {error.detail}\n")
        return 2
    out.write(f"ok   configuration {path}\n")
    for warning in [*config.warnings, *deployment_warnings(config)]:
        out.write(f"warn {warning}\n")
    try:
        for line in check_files(config):
            out.write(f"ok   {line}\n")
        out.write(f"ok   {await asyncio.to_thread(check_audit_store, config)}\n")
        out.write(f"ok   {await check_route(config)}\n")
    except Problem as problem:
        out.write(f"FAIL {problem.cause}\n     what to do: {problem.remedy}\n")
        return 1
    except ssl.SSLError as error:
        out.write(f"FAIL TLS setup: {error.reason}\n     what to do: check xroad.tls files\n")
        return 1
    # allowedMethods takes no VTJ credentials, and a person query to prove them would be a real, audited
    # lookup: say plainly what was not checked, and where a wrong pair shows.
    out.write(
        "note vtj.username and the VTJ password are not checked here: a wrong pair answers every query with "
        "upstream_rejected (VTJ return code 0003/0004; alert XroadVtjCredentialsRejected)\n"
    )
    out.write("all checks passed\n")
    return 0
