"""Bounded work in flight on memory://: a burst waits on the bus, not in the server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aionova.drivers.memory import MemoryDriver
from aionova.drivers.memory.bus import Bus, Consumer

from aionova import rpc

CTX: dict[str, Any] = {}


class Gated:
    """``note`` waits for the gate; each dispatch samples what the server holds."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.done = 0
        self.running = 0
        self.samples: list[tuple[int, int]] = []  # (server backlog, bus unsettled)
        self.server: rpc.RPCServer | None = None
        self.bus: Bus | None = None

    async def note(self, ctxt: Any, n: int) -> None:
        assert self.server is not None and self.bus is not None
        self.samples.append((len(self.server._backlog), self.bus.statistics().unsettled))
        self.running += 1
        await self.gate.wait()
        self.running -= 1
        self.done += 1


async def wait_until(predicate: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_burst_waits_on_the_bus_and_the_backlog_never_exceeds_the_window() -> None:
    url, total, window = f"memory://{uuid.uuid4().hex[:12]}", 20_000, 4
    async with rpc.get_rpc_transport(url) as transport:
        endpoint = Gated()
        driver = transport._driver
        assert isinstance(driver, MemoryDriver)
        endpoint.bus = driver.bus
        server = rpc.get_rpc_server(
            transport, rpc.Target(topic="t", server="s"), [endpoint], max_concurrency=window
        )
        endpoint.server = server
        async with server:
            client = rpc.RPCClient(transport, rpc.Target(topic="t"))
            for n in range(total):
                await client.cast(CTX, "note", n=n)
            await wait_until(lambda: endpoint.running == window)
            stats = driver.statistics()
            assert stats.pending == {"t": total - window} and stats.unsettled == window
            assert len(server._tasks) == window and not server._backlog
            endpoint.gate.set()
            await wait_until(lambda: endpoint.done == total)
            assert driver.statistics().pending == {}
        assert len(endpoint.samples) == total
        assert max(backlog for backlog, _ in endpoint.samples) <= window
        assert max(unsettled for _, unsettled in endpoint.samples) <= window


async def test_oslo_delivery_takes_the_whole_burst_into_the_server() -> None:
    """``bounded_backlog=False``: the backlog holds everything that arrived."""
    url, total = f"memory://{uuid.uuid4().hex[:12]}", 2_000
    async with rpc.get_rpc_transport(url) as transport:
        endpoint = Gated()
        endpoint.bus = transport._driver.bus  # type: ignore[attr-defined]
        server = rpc.get_rpc_server(
            transport,
            rpc.Target(topic="t", server="s"),
            [endpoint],
            max_concurrency=4,
            bounded_backlog=False,
        )
        endpoint.server = server
        async with server:
            client = rpc.RPCClient(transport, rpc.Target(topic="t"))
            for n in range(total):
                await client.cast(CTX, "note", n=n)
            await wait_until(lambda: endpoint.running == 4)
            assert len(server._backlog) == total - 4
            assert transport._driver.statistics().pending == {}  # type: ignore[attr-defined]
            endpoint.gate.set()
            await wait_until(lambda: endpoint.done == total)


async def test_calls_and_casts_through_a_window_of_one_all_arrive() -> None:
    """Topic, server-directed and fanout messages share one window, none starves."""
    url = f"memory://{uuid.uuid4().hex[:12]}"
    async with rpc.get_rpc_transport(url) as transport:
        served: list[Any] = []

        class Echo:
            async def echo(self, ctxt: Any, value: Any) -> Any:
                await asyncio.sleep(0)
                served.append(value)
                return value

        target = rpc.Target(topic="t", server="s")
        async with rpc.get_rpc_server(transport, target, [Echo()], max_concurrency=1):
            client = rpc.RPCClient(transport, rpc.Target(topic="t"), timeout=10)
            calls = [
                client.prepare(server="s" if n % 3 == 1 else None).call(CTX, "echo", value=n)
                for n in range(300)
            ]
            fanout = [
                client.prepare(fanout=True).cast(CTX, "echo", value=f"f{n}") for n in range(50)
            ]
            results = await asyncio.gather(*calls, *fanout)
            await wait_until(lambda: len(served) == 350)
        assert results[:300] == list(range(300))
        assert sorted(v for v in served if isinstance(v, str)) == sorted(f"f{n}" for n in range(50))


def test_the_bus_window_counts_until_settled() -> None:
    bus = Bus("unit")
    got: list[Any] = []
    consumer = Consumer(got.append, window=2)
    bus.declare("q", "x", "k")
    for n in range(5):
        bus.publish("x", "k", str(n).encode(), ttl=None, mandatory=False)
    bus.consume("q", consumer)
    assert [d.body for d in got] == [b"0", b"1"] and bus.statistics().pending == {"q": 3}
    got[0].done()
    got[0].done()  # settling twice counts once
    assert [d.body for d in got] == [b"0", b"1", b"2"]
    for delivery in list(got[1:]):
        delivery.done()
    assert [d.body for d in got] == [b"0", b"1", b"2", b"3", b"4"]
    assert bus.statistics().pending == {}


def test_expired_messages_waiting_for_room_are_dropped() -> None:
    bus = Bus("unit-ttl")
    got: list[Any] = []
    consumer = Consumer(got.append, window=1)
    bus.declare("q", "x", "k")
    bus.consume("q", consumer)
    bus.publish("x", "k", b"first", ttl=None, mandatory=False)
    bus.publish("x", "k", b"stale", ttl=-1.0, mandatory=False)  # already past its TTL
    bus.publish("x", "k", b"fresh", ttl=60, mandatory=False)
    got[0].done()
    assert [d.body for d in got] == [b"first", b"fresh"]
    assert bus.statistics().expired == 1


@pytest.mark.parametrize("bounded", [True, False])
async def test_abort_leaves_unfinished_messages_unsettled(bounded: bool) -> None:
    """A crash: cancelled dispatches are not settled (a broker would deliver them again)."""
    url = f"memory://{uuid.uuid4().hex[:12]}"
    async with rpc.get_rpc_transport(url) as transport:
        endpoint = Gated()
        endpoint.bus = transport._driver.bus  # type: ignore[attr-defined]
        server = rpc.get_rpc_server(
            transport,
            rpc.Target(topic="t", server="s"),
            [endpoint],
            max_concurrency=2,
            bounded_backlog=bounded,
        )
        endpoint.server = server
        await server.start()
        client = rpc.RPCClient(transport, rpc.Target(topic="t"))
        for n in range(10):
            await client.cast(CTX, "note", n=n)
        await wait_until(lambda: endpoint.running == 2)
        await asyncio.wait_for(server.abort(), 5)
        stats = transport._driver.statistics()  # type: ignore[attr-defined]
        assert endpoint.done == 0
        # Bounded: two taken (unsettled), eight still queued; oslo's: all ten taken.
        assert stats.unsettled == (2 if bounded else 10)
        assert stats.pending == ({"t": 8} if bounded else {})
