"""An in-process all-in-one with the REST app on aiohttp's test server (noauth2, or
Keystone mode against the real Keystone of ``scripts/keystone.sh``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient, TestServer

from aionova.api import create_app
from aionova.cmd.seed import IMAGES, seed
from aionova.config import ApiOpts, Config, KeystoneAuthtokenOpts, OsloPolicyOpts
from aionova.deployment import AllInOne
from tests.aionova.conftest import fast_config
from tests.keystone import Keystone, authtoken_settings, keystone

__all__ = ["keystone"]  # the session fixture, re-exported for this directory

ADMIN = {"X-Auth-Token": "notused"}
ALICE = {"X-Auth-Token": "alice:demo"}
BOB = {"X-Auth-Token": "bob:other"}
CIRROS = IMAGES[0].id


def at(version: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers asking for a microversion."""
    return {**(headers or ADMIN), "OpenStack-API-Version": f"compute {version}"}


@pytest.fixture
async def cloud(db_url: str) -> AsyncIterator[AllInOne]:
    aio = AllInOne(fast_config(), db_url)
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


Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]


def app_config(
    base: Config,
    *,
    api: dict[str, Any] | None = None,
    authtoken: dict[str, Any] | None = None,
    policy_file: str | None = None,
) -> Config:
    """``base`` with other [api], [keystone_authtoken] and [oslo_policy] settings."""
    return msgspec.structs.replace(
        base,
        api=msgspec.convert(api or {}, ApiOpts),
        keystone_authtoken=msgspec.convert(authtoken or {}, KeystoneAuthtokenOpts),
        oslo_policy=OsloPolicyOpts(policy_file=policy_file),
    )


@pytest.fixture
async def make_client(cloud: AllInOne) -> AsyncIterator[MakeClient]:
    """Factory: a test client on an app built with other settings (closed at teardown)."""
    clients: list[Client] = []

    async def factory(**settings: Any) -> Client:
        assert cloud.api is not None
        config = app_config(cloud.config, **settings)
        test_client: Client = TestClient(TestServer(create_app(cloud.api, cloud.db, config=config)))
        await test_client.start_server()
        clients.append(test_client)
        return test_client

    yield factory
    for test_client in clients:
        await test_client.close()


@pytest.fixture
async def ks_client(keystone: Keystone, make_client: MakeClient) -> Client:
    """The API in Keystone mode, validating with the service user ``nova``."""
    return await make_client(
        api={"auth_strategy": "keystone"}, authtoken=authtoken_settings(keystone)
    )
