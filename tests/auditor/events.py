"""Reading the view's own trail back from the store."""

from __future__ import annotations

import json
from typing import Any

from xroad_vtj.audit.store import AuditStore


async def access_events(store: AuditStore) -> list[dict[str, Any]]:
    rows = await store.raw_tail(100_000)
    bodies = [json.loads(body) for _, _, body, _ in rows]
    return [b for b in bodies if b.get("kind") == "event" and b.get("event") == "audit_access"]


async def raw_log_text(store: AuditStore) -> str:
    return "\n".join(str(body) for _, _, body, _ in await store.raw_tail(100_000))
