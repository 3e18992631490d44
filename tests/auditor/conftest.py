"""Fixtures: a populated SQLite audit store and the view over it, served in-process on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.auditor.data import config_for, populated_store
from xroad_vtj.audit.store import AuditStore, open_store
from xroad_vtj.auditor.app import create_view_app
from xroad_vtj.auditor.session import Sessions

AUDITOR = "Aila Auditor"


@pytest.fixture
async def populated(tmp_path: Path) -> tuple[Path, list[str]]:
    return await populated_store(tmp_path)


@pytest.fixture
async def view_store(populated: tuple[Path, list[str]]) -> AsyncIterator[AuditStore]:
    store = open_store(config_for(populated[0]), instance="auditor-test")
    await store.open(checkpoints=False)
    yield store
    await store.close()


@pytest.fixture
def sessions() -> Sessions:
    return Sessions()


@pytest.fixture
async def client(aiohttp_client: Any, view_store: AuditStore, sessions: Sessions) -> TestClient[Any, Any]:
    app = create_view_app(view_store, auditor=AUDITOR, sessions=sessions, verify_in_background=False)
    result: TestClient[Any, Any] = await aiohttp_client(app)
    return result


@pytest.fixture
async def signed_in(client: TestClient[Any, Any], sessions: Sessions) -> TestClient[Any, Any]:
    response = await client.get(f"/?token={sessions.token}", allow_redirects=False)
    assert response.status == 303
    return client
