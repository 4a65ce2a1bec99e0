"""Bounded work in flight over RabbitMQ: a prefetch from the server's window, acks that
keep unstarted work on the broker, and what a crash (abort) mid-burst loses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from aionova.drivers.amqp import AmqpSettings
from aionova.drivers.amqp.listener import prefetch_for
from aionova.rpc import RPCClient, RPCServer, Target, get_rpc_server, get_rpc_transport
from amqp_helpers import amqp_url

pytestmark = pytest.mark.rabbit

WINDOW = 8


class Worker:
    """``note(n)``: waits for the gate (when closed), then records n as done."""

    def __init__(self, *, gated: bool = False, work: float = 0.0) -> None:
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()
        self.work = work
        self.running = 0
        self.done: list[int] = []
        self.backlogs: list[int] = []
        self.server: RPCServer | None = None

    async def note(self, ctxt: dict[str, Any], n: int) -> None:
        if self.server is not None:
            self.backlogs.append(len(self.server._backlog))
        self.running += 1
        try:
            await self.gate.wait()
            await asyncio.sleep(self.work)
        finally:
            self.running -= 1
        self.done.append(n)


async def wait_until(predicate: Any, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def ready_count(channel: aio_pika.abc.AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(queue, passive=True)
    count = declared.declaration_result.message_count
    assert count is not None
    return count


async def burst(url: str, topic: str, total: int) -> None:
    """``total`` casts, 32 senders at a time, each confirmed by the broker."""
    async with get_rpc_transport(url) as transport:
        client = RPCClient(transport, Target(topic=topic))

        async def send(numbers: range) -> None:
            for n in numbers:
                await client.cast({}, "note", n=n)

        await asyncio.gather(*(send(range(k, total, 32)) for k in range(32)))


@pytest.fixture
async def cleanup(rabbit_url: str) -> AsyncIterator[list[str]]:
    """Queues and exchanges (by name) to delete after the test."""
    names: list[str] = []
    yield names
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    async with connection:
        channel = await connection.channel()
        for name in names:
            if name.startswith("x:"):
                await channel.exchange_delete(name[2:])
            else:
                await channel.queue_delete(name)


def test_prefetch_follows_the_window_unless_configured() -> None:
    assert prefetch_for(AmqpSettings(), None, ack_late=False) == 0  # oslo's: no limit
    assert prefetch_for(AmqpSettings(), 64, ack_late=False) == 64
    assert prefetch_for(AmqpSettings(), 64, ack_late=True) == 128
    assert prefetch_for(AmqpSettings(prefetch=10), 64, ack_late=False) == 10
    assert prefetch_for(AmqpSettings(prefetch=10), None, ack_late=True) == 10


async def test_a_burst_stays_on_the_broker(
    rabbit_url: str, topic: str, raw_channel: aio_pika.abc.AbstractChannel
) -> None:
    """2,000 casts to a blocked server: it holds its window, the broker the rest."""
    total = 2000
    worker = Worker(gated=True)
    async with get_rpc_transport(rabbit_url) as transport:
        server = get_rpc_server(
            transport, Target(topic=topic, server="s"), [worker], max_concurrency=WINDOW
        )
        worker.server = server
        async with server:
            await burst(rabbit_url, topic, total)
            await wait_until(lambda: worker.running == WINDOW)
            # WINDOW running (acknowledged), at most a prefetch of WINDOW more waiting.
            assert await ready_count(raw_channel, topic) >= total - 2 * WINDOW
            assert len(server._backlog) <= WINDOW
            worker.gate.set()
            await wait_until(lambda: len(worker.done) == total)
        assert sorted(worker.done) == list(range(total))
        assert max(worker.backlogs) <= WINDOW


async def test_oslo_delivery_takes_the_burst_off_the_broker(
    rabbit_url: str, topic: str, raw_channel: aio_pika.abc.AbstractChannel
) -> None:
    """``bounded_backlog=False``: acked on receipt, the burst moves into the server."""
    total = 1000
    worker = Worker(gated=True)
    async with get_rpc_transport(rabbit_url) as transport:
        server = get_rpc_server(
            transport,
            Target(topic=topic, server="s"),
            [worker],
            max_concurrency=WINDOW,
            bounded_backlog=False,
        )
        async with server:
            await burst(rabbit_url, topic, total)
            await wait_until(lambda: len(server._backlog) == total - WINDOW)
            assert await ready_count(raw_channel, topic) == 0
            worker.gate.set()
            await wait_until(lambda: len(worker.done) == total)


async def crash_mid_burst(
    url: str, topic: str, total: int, *, bounded: bool = True
) -> tuple[set[int], set[int], int]:
    """Serve a burst, abort the server after a tenth, finish with a second server.

    Returns what each server did, and how many messages the first had in its hands.
    """
    first, second = Worker(work=0.01), Worker(work=0.001)
    async with get_rpc_transport(url) as transport:
        server = get_rpc_server(
            transport,
            Target(topic=topic, server="a"),
            [first],
            max_concurrency=WINDOW,
            bounded_backlog=bounded,
        )
        async with server:
            await burst(url, topic, total)
            await wait_until(lambda: len(first.done) >= total // 10)
            held = len(server._backlog) + len(server._tasks)
            await server.abort()
    assert len(first.done) < total, "the crash came too late to test anything"
    async with get_rpc_transport(url) as transport:
        server = get_rpc_server(
            transport, Target(topic=topic, server="b"), [second], max_concurrency=WINDOW
        )
        async with server:
            connection = await aio_pika.connect(amqp_url(url))
            async with connection:
                channel = await connection.channel()

                async def drained() -> bool:
                    return (
                        await ready_count(channel, topic) == 0
                        and not server._tasks
                        and not server._backlog
                    )

                async with asyncio.timeout(120):
                    while not await drained():
                        await asyncio.sleep(0.05)
    return set(first.done), set(second.done), held


async def test_a_crash_with_at_least_once_loses_nothing(
    rabbit_url: str, topic: str, cleanup: list[str]
) -> None:
    exchange = f"alo_{uuid.uuid4().hex[:8]}"
    cleanup += [topic, f"{topic}.a", f"{topic}.b", f"x:{exchange}"]
    url = f"{rabbit_url}?at_least_once=1&control_exchange={exchange}"
    first, second, held = await crash_mid_burst(url, topic, 1000)
    assert first | second == set(range(1000))
    assert held <= WINDOW and second  # what the first had taken came back from the broker


async def test_a_crash_loses_at_most_the_window(rabbit_url: str, topic: str) -> None:
    """At-most-once (oslo's default acking): only what workers had taken is lost."""
    first, second, held = await crash_mid_burst(rabbit_url, topic, 1000)
    assert held <= WINDOW
    assert 1000 - len(first | second) <= WINDOW


async def test_oslo_delivery_loses_the_whole_backlog_in_a_crash(
    rabbit_url: str, topic: str
) -> None:
    """The contrast: everything taken off the broker on receipt dies with the server."""
    first, second, held = await crash_mid_burst(rabbit_url, topic, 1000, bounded=False)
    assert held > 10 * WINDOW
    assert 1000 - len(first | second) > 10 * WINDOW
