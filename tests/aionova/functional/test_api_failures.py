"""Only ``InstanceNotFound`` is a 404: a failing database is a logged 500 (issue 11 item 4)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aionova.api import create_app
from aionova.db import Database
from tests.aionova.conftest import MakeCloud

ADMIN = {"X-Auth-Token": "notused", "OpenStack-API-Version": "compute 2.60"}


@pytest.fixture
async def broken(make_cloud: MakeCloud, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """The REST app on a database that fails every query (opened, then closed)."""
    cloud = await make_cloud()
    assert cloud.api is not None
    failing = await Database(tmp_path / "nova0.sqlite").open()
    await failing.close()
    async with TestClient(TestServer(create_app(cloud.api, failing))) as client:
        yield client


async def test_unknown_server_is_404(
    make_cloud: MakeCloud,
) -> None:
    cloud = await make_cloud()
    assert cloud.api is not None
    async with TestClient(TestServer(create_app(cloud.api, cloud.db))) as client:
        resp = await client.get(f"/v2.1/servers/{uuid.uuid4()}", headers=ADMIN)
        assert resp.status == 404
        assert "could not be found" in (await resp.json())["itemNotFound"]["message"]


async def test_failing_database_is_500_and_logged(
    broken: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    ident = str(uuid.uuid4())
    with caplog.at_level(logging.ERROR, logger="aionova.api.app"):
        resp = await broken.get(f"/v2.1/servers/{ident}", headers=ADMIN)
    assert resp.status == 500
    body = await resp.json()
    assert "computeFault" in body and "not found" not in body["computeFault"]["message"].lower()
    failed = [r for r in caplog.records if f"/v2.1/servers/{ident} failed" in r.getMessage()]
    assert failed and failed[0].exc_info is not None
