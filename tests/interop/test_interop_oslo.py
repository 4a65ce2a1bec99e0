"""aionova and real oslo.messaging on one RabbitMQ: each calls the other."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import oslo_messaging
import pytest
from aionova.rpc import RemoteError, RPCClient, Target, get_rpc_server, get_rpc_transport
from interop_endpoints import AllowedError, Endpoint

from aionova import rpc

pytestmark = [pytest.mark.rabbit, pytest.mark.interop]


class PrivateError(Exception):
    """Raised from a module the callers do not allow: arrives as RemoteError."""


class AioEndpoint(Endpoint):
    target = Target(version="1.3")

    def fail_private(self, ctxt: dict[str, Any]) -> None:
        raise PrivateError("private")


class OsloEndpoint(Endpoint):
    target = oslo_messaging.Target(version="1.3")

    def fail_private(self, ctxt: dict[str, Any]) -> None:
        raise PrivateError("private")


async def wait_until(predicate: Any, within: float = 15) -> None:
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.05)


@pytest.fixture
async def aio_transport(rabbit_url: str) -> Any:
    async with get_rpc_transport(rabbit_url, allowed_remote_exmods=["interop_endpoints"]) as tr:
        yield tr


async def test_oslo_client_to_aionova_server(
    aio_transport: rpc.Transport, oslo_transport: Any, topic: str
) -> None:
    a, b = AioEndpoint("a"), AioEndpoint("b")
    servers = [
        get_rpc_server(aio_transport, Target(topic=topic, server=e.name), [e]) for e in (a, b)
    ]
    for server in servers:
        await server.start()
    client = oslo_messaging.get_rpc_client(
        oslo_transport, oslo_messaging.Target(topic=topic, version="1.2"), timeout=15
    )
    call = asyncio.to_thread
    try:
        assert await call(client.call, {}, "echo", value={"x": [1, "é"]}) == {"x": [1, "é"]}
        assert await call(client.prepare(server="b").call, {}, "whoami") == "b"
        ctx = await call(client.call, {"user": "u1", "request_id": "req-9"}, "context")
        assert ctx == {"user": "u1", "request_id": "req-9"}
        await call(client.prepare(fanout=True).cast, {}, "note", n=1)
        await call(client.prepare(server="a").cast, {}, "note", n=2)
        await call(client.cast, {}, "note", n=3)
        await wait_until(
            lambda: 1 in a.casts and 1 in b.casts and 2 in a.casts and 3 in a.casts + b.casts
        )
        assert 2 not in b.casts
        # version negotiation: 1.2 ≤ 1.3 served above; 1.4 and 2.0 are refused remotely
        with pytest.raises(oslo_messaging.RemoteError, match="UnsupportedVersion"):
            await call(client.prepare(version="1.4").call, {}, "whoami")
        # remote exceptions: builtins and allowed modules rebuilt, the rest RemoteError
        with pytest.raises(ValueError, match="bad value"):
            await call(client.call, {}, "fail_builtin")
        with pytest.raises(AllowedError) as info:
            await call(client.call, {}, "fail_allowed")
        assert info.value.code == 7
        with pytest.raises(oslo_messaging.RemoteError) as remote:
            await call(client.call, {}, "fail_private")
        assert remote.value.exc_type == "PrivateError"
    finally:
        for server in servers:
            await server.stop()
            await server.wait()


async def test_aionova_client_to_oslo_server(
    aio_transport: rpc.Transport, oslo_server_factory: Any, topic: str
) -> None:
    a, b = OsloEndpoint("a"), OsloEndpoint("b")
    async with oslo_server_factory(topic, "a", [a]), oslo_server_factory(topic, "b", [b]):
        client = RPCClient(aio_transport, Target(topic=topic, version="1.2"), timeout=15)
        assert await client.call({}, "echo", value=[None, 0, "é"]) == [None, 0, "é"]
        assert await client.prepare(server="b").call({}, "whoami") == "b"
        ctx = await client.call({"user": "u2", "request_id": "req-2"}, "context")
        assert ctx == {"user": "u2", "request_id": "req-2"}
        await client.prepare(fanout=True).cast({}, "note", n=1)
        await client.prepare(server="b").cast({}, "note", n=2)
        await client.cast({}, "note", n=3)
        await wait_until(
            lambda: 1 in a.casts and 1 in b.casts and 2 in b.casts and 3 in a.casts + b.casts
        )
        assert 2 not in a.casts
        with pytest.raises(RemoteError) as unsupported:
            await client.prepare(version="2.0").call({}, "whoami")
        assert unsupported.value.exc_type == "UnsupportedVersion"
        with pytest.raises(ValueError, match="bad value"):
            await client.call({}, "fail_builtin")
        with pytest.raises(AllowedError) as info:
            await client.call({}, "fail_allowed")
        assert info.value.code == 7
        with pytest.raises(RemoteError) as remote:
            await client.call({}, "fail_private")
        assert remote.value.exc_type == "PrivateError"


async def test_shared_topic_group(
    aio_transport: rpc.Transport, oslo_transport: Any, oslo_server_factory: Any, topic: str
) -> None:
    """An oslo server and an aionova server on one topic both get a share, from both clients."""
    ours, theirs = AioEndpoint("aionova"), OsloEndpoint("oslo")
    async with (
        oslo_server_factory(topic, "oslo", [theirs]),
        get_rpc_server(aio_transport, Target(topic=topic, server="aionova"), [ours]),
    ):
        client = RPCClient(aio_transport, Target(topic=topic), timeout=15)
        names = await asyncio.gather(*[client.call({}, "whoami") for _ in range(30)])
        assert set(Counter(names)) == {"aionova", "oslo"}
        oslo_client = oslo_messaging.get_rpc_client(
            oslo_transport, oslo_messaging.Target(topic=topic), timeout=15
        )
        for n in range(20):
            await asyncio.to_thread(oslo_client.cast, {}, "note", n=n)
        await wait_until(lambda: len(ours.casts) + len(theirs.casts) == 20)
        assert ours.casts and theirs.casts
        assert sorted(ours.casts + theirs.casts) == list(range(20))
