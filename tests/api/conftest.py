"""An in-process all-in-one with the REST app on aiohttp's test server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from aionova.api import create_app
from aionova.cmd.seed import IMAGES, seed
from aionova.deployment import AllInOne
from tests.aionova.conftest import fast_config

ADMIN = {"X-Auth-Token": "notused"}
ALICE = {"X-Auth-Token": "alice:demo"}
BOB = {"X-Auth-Token": "bob:other"}
CIRROS = IMAGES[0].id


def at(version: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers asking for a microversion."""
    return {**(headers or ADMIN), "OpenStack-API-Version": f"compute {version}"}


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[AllInOne]:
    aio = AllInOne(fast_config(), tmp_path / "api.sqlite")
    await aio.start()
    try:
        await seed(aio.db)
        for host in ("compute1", "compute2"):
            await aio.add_compute(host)
        yield aio
    finally:
        await aio.stop()


@pytest.fixture
async def client(cloud: AllInOne) -> AsyncIterator[TestClient[Any, Any]]:
    assert cloud.api is not None
    async with TestClient(TestServer(create_app(cloud.api, cloud.db))) as test_client:
        yield test_client


async def boot(client: TestClient[Any, Any], name: str, headers: dict[str, str]) -> str:
    """POST /servers; returns the id."""
    body = {"server": {"name": name, "imageRef": CIRROS, "flavorRef": "1", "networks": "auto"}}
    resp = await client.post("/v2.1/servers", json=body, headers=at("2.60", headers))
    assert resp.status == 202, await resp.text()
    return (await resp.json())["server"]["id"]
