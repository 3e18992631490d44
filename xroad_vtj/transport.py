"""The only place that talks to the security server (or, on the direct route, to VTJ's HTTPS service): one
aiohttp ``ClientSession`` per process.

It owns TLS (CA file, client certificate, host name verification, TLS ≥ 1.2), the connection pool and the
response size cap, and maps every aiohttp/ssl/OS error into the service's own errors in one place:

- :class:`UpstreamUnavailable` — the request provably never left (connection refused, DNS, TLS handshake);
  the only failure after which a query may be retried.
- :class:`OutcomeUnknown` — the connection broke after the request may have reached the security server.
- :class:`UpstreamTimeout` — the deadline passed; the query may have been served.
- :class:`InvalidUpstreamResponse` — the answer exceeded ``max_response_bytes``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiohttp
from cryptography import x509

from xroad_vtj.config import Config, XRoadConfig
from xroad_vtj.errors import InvalidUpstreamResponse, OutcomeUnknown, UpstreamTimeout, UpstreamUnavailable

# identity: the response bytes are parsed as they arrive, so no compressed answer may be invited.
HEADERS = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""', "Accept-Encoding": "identity"}
READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str | None
    body: bytes


class Upstream(Protocol):
    """What the pipeline needs of a transport: POST bytes, get the answer (``Transport``, or an in-process double
    such as :class:`xroad_vtj.simulator.inprocess.InProcessTransport`)."""

    async def post(
        self, body: bytes, *, max_bytes: int | None = None, soap_action: str | None = None
    ) -> Reply: ...


def client_ssl_context(ca_file: Path | None, cert_file: Path | None, key_file: Path | None) -> ssl.SSLContext:
    """TLS towards the security server: verified, host name checked, TLS 1.2 or newer, optional client cert."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if cert_file is not None and key_file is not None:
        context.load_cert_chain(str(cert_file), str(key_file))
    return context


def certificate_not_after(cert_file: Path) -> datetime:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return cert.not_valid_after_utc


class Transport:
    """Posts X-Road messages to the security server through one shared, pooled session."""

    def __init__(self, config: XRoadConfig) -> None:
        """``config`` names the peer: the security server, or (see :meth:`for_config`) VTJ's direct service."""
        self.config = config
        self.url = config.security_server_url
        self._session: aiohttp.ClientSession | None = None
        self.client_cert_not_after: datetime | None = None
        self._ssl: ssl.SSLContext | None = None
        if config.tls is not None:
            self._ssl = client_ssl_context(config.tls.ca_file, config.tls.cert_file, config.tls.key_file)
            if config.tls.cert_file is not None:
                self.client_cert_not_after = certificate_not_after(config.tls.cert_file)

    @classmethod
    def for_config(cls, config: Config) -> Transport:
        """The transport of the configured route: the security server, or the direct service over HTTPS with
        the organisation's certificate (deadline, size cap and pool size still from ``xroad``)."""
        direct = config.vtj.direct
        if config.vtj.route == "direct" and direct is not None:
            return cls(replace(config.xroad, security_server_url=direct.url, tls=direct.tls))
        return cls(config.xroad)

    @property
    def client_cert_expired(self) -> bool:
        return self.client_cert_not_after is not None and self.client_cert_not_after <= datetime.now(UTC)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.config.pool_size,
            ssl=self._ssl if self._ssl is not None else True,
            # Shorter than the security server's idle timeout, so that we close idle connections first and a
            # request is never written onto a connection the server is about to drop.
            keepalive_timeout=10,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.config.timeout_seconds),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self, body: bytes, *, max_bytes: int | None = None, soap_action: str | None = None
    ) -> Reply:
        """POST ``body`` and read the whole answer. The caller sets the overall deadline (asyncio.timeout).

        ``soap_action`` is the quoted SOAPAction of the direct route; X-Road takes the empty one."""
        if self._session is None:
            raise RuntimeError("transport not started")
        limit = max_bytes if max_bytes is not None else self.config.max_response_bytes
        headers = HEADERS if soap_action is None else {**HEADERS, "SOAPAction": soap_action}
        try:
            async with self._session.post(self.url, data=body, headers=headers) as response:
                length = response.content_length
                if length is not None and length > limit:
                    raise InvalidUpstreamResponse(
                        "response larger than xroad.max_response_bytes", http_status=response.status
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(READ_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise InvalidUpstreamResponse(
                            "response larger than xroad.max_response_bytes", http_status=response.status
                        )
                    chunks.append(chunk)
                return Reply(response.status, response.headers.get("Content-Type"), b"".join(chunks))
        except (TimeoutError, asyncio.CancelledError):
            raise
        except aiohttp.ClientConnectorError as exc:
            # Raised while connecting (refused, DNS, TLS handshake): nothing was written to the server.
            raise UpstreamUnavailable(
                f"cannot connect to the security server ({type(exc).__name__})"
            ) from None
        except aiohttp.ServerTimeoutError:
            raise UpstreamTimeout() from None
        except aiohttp.ClientResponseError as exc:
            raise OutcomeUnknown(
                f"malformed HTTP response from the security server ({type(exc).__name__})"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise OutcomeUnknown(f"connection to the security server failed ({type(exc).__name__})") from None


async def deadline_post(
    transport: Upstream, body: bytes, seconds: float, *, soap_action: str | None = None
) -> Reply:
    """``post`` under one overall deadline; the deadline becomes :class:`UpstreamTimeout`."""
    try:
        async with asyncio.timeout(seconds):
            if soap_action is None:
                return await transport.post(body)
            return await transport.post(body, soap_action=soap_action)
    except TimeoutError:
        raise UpstreamTimeout(f"no answer within {seconds:g} s") from None
