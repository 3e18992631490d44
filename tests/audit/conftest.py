from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from xroad_vtj.audit.config import AuditConfig, parse_audit_config
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.metrics import Metrics


@pytest.fixture
def sqlite_raw(tmp_path: Path) -> dict[str, object]:
    return {"backend": "sqlite", "sqlite_path": str(tmp_path / "audit.sqlite3")}


@pytest.fixture
def sqlite_config(sqlite_raw: dict[str, object], tmp_path: Path) -> AuditConfig:
    return parse_audit_config(sqlite_raw, tmp_path)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def sqlite_store(sqlite_config: AuditConfig, metrics: Metrics) -> AsyncIterator[AuditStore]:
    store = open_store(sqlite_config, instance="test-1", metrics=metrics)
    await store.open()
    yield store
    await store.close()
