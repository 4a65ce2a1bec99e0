"""End to end over RabbitMQ with the public API."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aionova.rpc import (
    MessagingTimeout,
    RemoteError,
    RPCClient,
    Target,
    Transport,
    get_rpc_server,
    get_rpc_transport,
)

pytestmark = pytest.mark.rabbit


class PrivateError(Exception):
    """Defined in a module callers are not allowed to rebuild from."""


class Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[Any] = []
        self.event = asyncio.Event()

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return self.name

    def note(self, ctxt: dict[str, Any], n: int) -> None:
        self.seen.append(n)
        self.event.set()

    def ctx(self, ctxt: dict[str, Any]) -> dict[str, Any]:
        return dict(ctxt)

    def boom(self, ctxt: dict[str, Any]) -> None:
        raise ValueError("boom")

    def custom(self, ctxt: dict[str, Any]) -> None:
        raise LookupError("kept") from KeyError("x")

    def private(self, ctxt: dict[str, Any]) -> None:
        raise PrivateError("secret")

    def falsy(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value


@pytest.fixture
async def transport(rabbit_url: str) -> AsyncIterator[Transport]:
    async with get_rpc_transport(rabbit_url) as tr:
        yield tr


async def wait_for(predicate: Any, within: float = 10) -> None:
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_call_cast_fanout_and_direct(transport: Transport, topic: str) -> None:
    workers = [Worker("a"), Worker("b")]
    servers = [get_rpc_server(transport, Target(topic=topic, server=w.name), [w]) for w in workers]
    for server in servers:
        await server.start()
    try:
        client = RPCClient(transport, Target(topic=topic), timeout=10)
        assert await client.prepare(server="b").call({}, "whoami") == "b"
        for value in (None, 0, False, [], {}):
            assert await client.call({}, "falsy", value=value) == value
        assert (await client.call({"user": "u1", "roles": ["r"]}, "ctx"))["user"] == "u1"
        await client.prepare(fanout=True).cast({}, "note", n=7)
        await wait_for(lambda: all(7 in w.seen for w in workers))
        await client.prepare(server="a").cast({}, "note", n=8)
        await wait_for(lambda: 8 in workers[0].seen)
        # Competing consumers on the shared topic queue: both get some.
        names = await asyncio.gather(*[client.call({}, "whoami") for _ in range(40)])
        assert set(Counter(names)) == {"a", "b"}
        assert 8 not in workers[1].seen
    finally:
        for server in servers:
            await server.stop()
            await server.wait()


async def test_remote_errors(rabbit_url: str, topic: str) -> None:
    async with (
        get_rpc_transport(rabbit_url, allowed_remote_exmods=["builtins"]) as transport,
        get_rpc_server(transport, Target(topic=topic, server="s"), [Worker("s")]),
    ):
        client = RPCClient(transport, Target(topic=topic), timeout=10)
        with pytest.raises(ValueError, match="boom"):
            await client.call({}, "boom")
        with pytest.raises(LookupError):
            await client.call({}, "custom")
        with pytest.raises(RemoteError) as info:
            await client.call({}, "private")
        assert info.value.exc_type == "PrivateError" and info.value.value == "secret"


async def test_call_without_server_times_out(transport: Transport, topic: str) -> None:
    client = RPCClient(transport, Target(topic=topic), timeout=0.5)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(MessagingTimeout):
        await client.call({}, "whoami")
    assert loop.time() - start < 2


async def test_call_monitor_keeps_a_long_call_alive(transport: Transport, topic: str) -> None:
    class Slow:
        async def nap(self, ctxt: dict[str, Any]) -> str:
            await asyncio.sleep(3)
            return "awake"

    async with get_rpc_server(transport, Target(topic=topic, server="s"), [Slow()]):
        client = RPCClient(transport, Target(topic=topic), timeout=30, call_monitor_timeout=2)
        assert await client.call({}, "nap") == "awake"
