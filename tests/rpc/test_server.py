"""RPCServer lifecycle and concurrency (spec rpc.md §3.5–3.6, items 22, 35, 40–41)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable
from typing import Any

import pytest
from aionova.rpc import _envelope as envelope
from aionova.rpc.testing import RecordingEndpoint

from aionova import rpc

CTX: dict[str, Any] = {}


@pytest.mark.parametrize("target", [rpc.Target(topic="t"), rpc.Target(server="s")])
async def test_start_requires_topic_and_server(
    transport: rpc.Transport, target: rpc.Target
) -> None:
    server = rpc.get_rpc_server(transport, target, [])
    with pytest.raises(rpc.InvalidTarget):
        await server.start()


async def test_stop_and_wait_are_idempotent_and_restartable(
    transport: rpc.Transport, topic: str
) -> None:
    endpoint = RecordingEndpoint()
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [endpoint])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
    await server.start()
    await server.start()  # warns, no second subscription
    assert await client.call(CTX, "echo", value=1) == 1
    await server.stop()
    await server.stop()
    await server.wait()
    await server.wait()
    await server.start()
    assert await client.call(CTX, "echo", value=2) == 2
    await server.stop()
    await server.wait()
    assert len(endpoint.calls) == 2


async def test_wait_blocks_until_stop(transport: rpc.Transport, topic: str) -> None:
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [])
    await server.start()
    waiter = asyncio.ensure_future(server.wait())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await server.stop()
    await asyncio.wait_for(waiter, 5)


async def test_wait_timeout(transport: rpc.Transport, topic: str) -> None:
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [])
    await server.start()
    with pytest.raises(TimeoutError):
        await server.wait(timeout=0.05)
    await server.stop()
    await server.wait(timeout=5)


async def test_no_new_message_is_dispatched_after_stop(
    transport: rpc.Transport, topic: str
) -> None:
    endpoint = RecordingEndpoint()
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [endpoint])
    await server.start()
    await server.stop()
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=0.2)
    with pytest.raises(rpc.MessagingTimeout):
        await client.call(CTX, "echo", value=1)
    await server.wait()
    assert endpoint.calls == []


async def test_max_concurrency_bounds_dispatches(transport: rpc.Transport, topic: str) -> None:
    running = peak = 0
    release = asyncio.Event()

    class Slow:
        async def work(self, ctxt: Any, n: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1
            return n

    server = rpc.get_rpc_server(
        transport, rpc.Target(topic=topic, server="s"), [Slow()], max_concurrency=3
    )
    async with server:
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
        calls = [asyncio.ensure_future(client.call(CTX, "work", n=i)) for i in range(10)]
        async with asyncio.timeout(5):
            while running < 3:
                await asyncio.sleep(0.01)
        release.set()
        assert await asyncio.gather(*calls) == list(range(10))
    assert peak == 3


class Ordered:
    """``note(n)`` records n; ``n == 0`` waits for the gate first."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.gate = asyncio.Event()

    async def note(self, ctxt: Any, n: int) -> None:
        if n == 0:
            await self.gate.wait()
        self.seen.append(n)


async def test_backlog_is_served_in_order_and_drained_by_wait(
    transport: rpc.Transport, topic: str
) -> None:
    """oslo's delivery: with one worker, casts taken behind a slow one run in order."""
    endpoint = Ordered()
    server = rpc.get_rpc_server(
        transport,
        rpc.Target(topic=topic, server="s"),
        [endpoint],
        max_concurrency=1,
        bounded_backlog=False,
    )
    await server.start()
    client = rpc.RPCClient(transport, rpc.Target(topic=topic))
    for n in range(20):
        await client.cast(CTX, "note", n=n)
    await asyncio.sleep(0.05)
    assert endpoint.seen == [] and len(server._backlog) == 19
    await server.stop()
    endpoint.gate.set()
    await server.wait(timeout=5)
    assert endpoint.seen == list(range(20))


async def test_a_bounded_backlog_leaves_the_rest_queued_in_order(
    transport: rpc.Transport, topic: str
) -> None:
    """The default: the server takes one message per worker; the others wait in
    the queue, where the next start finds them, still in order."""
    endpoint = Ordered()
    target = rpc.Target(topic=topic, server="s")
    server = rpc.get_rpc_server(transport, target, [endpoint], max_concurrency=1)
    await server.start()
    client = rpc.RPCClient(transport, rpc.Target(topic=topic))
    for n in range(20):
        await client.cast(CTX, "note", n=n)
    await asyncio.sleep(0.05)
    assert endpoint.seen == [] and len(server._backlog) == 0
    assert transport._driver.statistics().pending == {topic: 19}  # type: ignore[attr-defined]
    await server.stop()
    endpoint.gate.set()
    await server.wait(timeout=5)
    assert endpoint.seen == [0]
    await server.start()
    async with asyncio.timeout(5):
        while len(endpoint.seen) < 20:
            await asyncio.sleep(0.01)
    await server.stop()
    await server.wait(timeout=5)
    assert endpoint.seen == list(range(20))


class UnsettleableDelivery:
    """A delivery whose acknowledgement fails, as on a channel that just closed."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def done(self) -> Awaitable[None]:
        async def fail() -> None:
            raise ConnectionError("channel closed")

        return fail()


async def test_a_failed_ack_does_not_stall_the_backlog(
    transport: rpc.Transport, topic: str
) -> None:
    endpoint = RecordingEndpoint()
    server = rpc.get_rpc_server(
        transport, rpc.Target(topic=topic, server="s"), [endpoint], max_concurrency=1
    )
    await server.start()
    for n in range(3):
        body = envelope.encode_request("echo", {"value": n}, {})
        server._on_message(UnsettleableDelivery(body))
    await endpoint.wait_for_calls(3)
    await server.stop()
    await server.wait(timeout=5)
    assert [kwargs["value"] for _, kwargs in endpoint.calls] == [0, 1, 2]


CALLER_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="unset")


async def test_handlers_do_not_see_the_callers_context_variables(
    transport: rpc.Transport, topic: str
) -> None:
    class Peek:
        async def peek(self, ctxt: Any) -> str:
            return CALLER_VAR.get()

    async with rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [Peek()]):
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
        token = CALLER_VAR.set("client")
        try:
            assert await client.call(CTX, "peek") == "unset"
        finally:
            CALLER_VAR.reset(token)


async def test_abort_cancels_running_dispatches(transport: rpc.Transport, topic: str) -> None:
    endpoint = RecordingEndpoint()
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [endpoint])
    await server.start()
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=0.5)
    call = asyncio.ensure_future(client.call(CTX, "sleep", seconds=30))
    await endpoint.wait_for_calls(1)
    await asyncio.wait_for(server.abort(), 2)
    with pytest.raises(rpc.MessagingTimeout):
        await call


async def test_heartbeats_stop_quietly_when_replies_fail(
    transport: rpc.Transport, topic: str
) -> None:
    """A heartbeat that cannot be sent ends the heartbeats; the dispatch goes on."""
    endpoint = RecordingEndpoint()
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [endpoint])
    async with server:
        client = rpc.RPCClient(
            transport, rpc.Target(topic=topic), timeout=0.3, call_monitor_timeout=2
        )
        with pytest.raises(rpc.MessagingTimeout):  # caller gone: its reply queue stays,
            await client.call(CTX, "sleep", seconds=1.5)  # nobody waits for the id
        await endpoint.wait_for_calls(1)
    assert endpoint.calls == [("sleep", {"seconds": 1.5})]


async def test_sync_endpoints_are_called_inline(transport: rpc.Transport, topic: str) -> None:
    class Plain:
        def add(self, ctxt: Any, a: int, b: int) -> int:
            return a + b

    async with rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [Plain()]):
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
        assert await client.call(CTX, "add", a=2, b=3) == 5


async def test_ping_endpoint(transport: rpc.Transport, topic: str) -> None:
    class OwnPing:
        def oslo_rpc_server_ping(self, ctxt: Any) -> str:
            return "mine"

    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
    target = rpc.Target(topic=topic, server="s")
    async with rpc.get_rpc_server(transport, target, [RecordingEndpoint()], ping_enabled=True):
        assert await client.call(CTX, "oslo_rpc_server_ping") == "pong"
    async with rpc.get_rpc_server(transport, target, [OwnPing()], ping_enabled=True):
        assert await client.call(CTX, "oslo_rpc_server_ping") == "mine"
    async with rpc.get_rpc_server(transport, target, [RecordingEndpoint()]):
        with pytest.raises(rpc.NoSuchMethod):
            await client.call(CTX, "oslo_rpc_server_ping")
