"""Product schemas (``HaeTuotteenSkeema``): fetched through the configured route, cached in memory.

A schema describes a product, not a person: fetching one is not an audited query and touches no quota. It is
still the caller's permit that decides which products' schemas the caller may see. Answers are cached per
(product, kind) for ``vtj.product_schema_cache_seconds``; concurrent misses of one key share one request.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from xroad_vtj.config import CallerConfig, Config
from xroad_vtj.errors import InvalidUpstreamResponse, ProductNotAllowed, XRoadVtjError
from xroad_vtj.logging import get_logger
from xroad_vtj.policy import permitted_product
from xroad_vtj.transport import Upstream, deadline_post
from xroad_vtj.vtj.operations import SCHEMA_QUERY, build_schema_body, parse_schema_response
from xroad_vtj.vtj.soso import build_soso_schema_request, parse_soso_response, soap_action
from xroad_vtj.xroad import Headers, build_request, new_message_id, parse_message, verify_response

log = get_logger("xroad_vtj.product_schemas")

CACHE_ENTRIES = 256  # bounded: keys come from callers (within their permits)


class ProductSchemas:
    def __init__(self, config: Config, transport: Upstream) -> None:
        self.config = config
        self.transport = transport
        self._cache: dict[tuple[str, int], tuple[float, bytes]] = {}
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    async def schema(self, caller: CallerConfig, product: str, kind: int) -> bytes:
        permitted = permitted_product(caller, product)
        if permitted is None:
            raise ProductNotAllowed("the caller's data permit does not cover this product")
        key = (permitted, kind)
        cached = self._fresh(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                cached = self._fresh(key)
                if cached is not None:
                    return cached
                document = await self._fetch(permitted, kind)
                if len(self._cache) >= CACHE_ENTRIES:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = (time.monotonic() + self.config.vtj.product_schema_cache_seconds, document)
                return document
        finally:
            if not lock.locked():
                self._locks.pop(key, None)

    def _fresh(self, key: tuple[str, int]) -> bytes | None:
        entry = self._cache.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    async def _fetch(self, product: str, kind: int) -> bytes:
        cfg = self.config
        timeout = cfg.xroad.timeout_seconds
        max_bytes = cfg.xroad.max_response_bytes
        started = time.perf_counter()
        try:
            if cfg.vtj.route == "direct":
                sent = build_soso_schema_request(product, kind)
                message_id = str(uuid.uuid4())
                reply = await deadline_post(
                    self.transport, sent, timeout, soap_action=soap_action(SCHEMA_QUERY)
                )
                wrapper = parse_soso_response(
                    reply.body, reply.content_type, SCHEMA_QUERY, max_bytes=max_bytes
                )
            else:
                headers = Headers(
                    client=cfg.xroad.client,
                    service=cfg.vtj.service_for(SCHEMA_QUERY),
                    id=new_message_id(),
                    user_id="xroad-vtj",
                )
                message_id = headers.id
                sent = build_request(headers, build_schema_body(product, kind))
                reply = await deadline_post(self.transport, sent, timeout)
                message = parse_message(reply.body, reply.content_type, max_bytes=max_bytes)
                wrapper = verify_response(message, sent, headers)
            document = parse_schema_response(wrapper)
        except (UnicodeError, LookupError):
            raise InvalidUpstreamResponse("the schema answer cannot be decoded") from None
        except XRoadVtjError as error:
            log.warning("product_schema_failed", code=error.code, product=product, kind=kind)
            raise
        log.info(
            "product_schema_fetched",
            product=product,
            kind=kind,
            message_id=message_id,
            seconds=round(time.perf_counter() - started, 4),
        )
        return document
