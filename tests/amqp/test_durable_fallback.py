"""oslo.messaging's durable fallback (spec §6.5): a 406 on 'durable' redeclares non-durable.

Another service declared the exchange and queues non-durable first; a driver
configured with ``amqp_durable_queues`` must still work on them. Any other
406 (other arguments, other type) stays a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import aiormq
import pytest
from aionova.drivers.amqp.errors import DeclarationConflict
from aionova.rpc import (
    MessageDeliveryFailure,
    RPCClient,
    Target,
    TransportError,
    get_rpc_server,
    get_rpc_transport,
)
from amqp_helpers import amqp_url

pytestmark = pytest.mark.rabbit

FALLBACK = "redeclaring it non-durable"


class Worker:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.event = asyncio.Event()

    def ping(self, ctxt: dict[str, Any]) -> str:
        return "pong"

    def note(self, ctxt: dict[str, Any], n: int) -> None:
        self.seen.append(n)
        self.event.set()


@pytest.fixture
def exchange() -> str:
    """A control exchange no other test uses."""
    return f"ctl_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def broker(
    rabbit_url: str, topic: str, exchange: str
) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    """A plain aio-pika connection; deletes the test's queues and exchange afterwards."""
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    yield connection
    channel = await connection.channel()
    for queue in (topic, f"{topic}.s"):
        await channel.queue_delete(queue)
    await channel.exchange_delete(exchange)
    await connection.close()


def fallbacks(caplog: pytest.LogCaptureFixture, kind: str, name: str) -> int:
    return sum(
        1
        for r in caplog.records
        if r.levelno == logging.WARNING
        and FALLBACK in r.getMessage()
        and f"{kind} '{name}'" in r.getMessage()
    )


async def is_nondurable(connection: aio_pika.abc.AbstractConnection, queue: str) -> bool:
    """Whether ``queue`` exists non-durable (a durable one answers 406 to this)."""
    channel = await connection.channel()
    try:
        await channel.declare_queue(queue, durable=False)
    except aiormq.exceptions.ChannelPreconditionFailed:
        return False
    await channel.close()
    return True


async def test_durable_server_and_client_on_nondurable_exchange_and_queue(
    rabbit_url: str,
    topic: str,
    exchange: str,
    broker: aio_pika.abc.AbstractConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="drivers.amqp")
    channel = await broker.channel()
    await channel.declare_exchange(exchange, "topic", durable=False)
    await channel.declare_queue(topic, durable=False)
    url = f"{rabbit_url}?amqp_durable_queues=true&control_exchange={exchange}"
    worker = Worker()
    async with (
        get_rpc_transport(url) as transport,
        get_rpc_server(transport, Target(topic=topic, server="s"), [worker]),
    ):
        client = RPCClient(transport, Target(topic=topic), timeout=10)
        async with asyncio.timeout(15):
            assert await client.call({}, "ping") == "pong"
            assert await client.prepare(server="s").call({}, "ping") == "pong"
            await client.cast({}, "note", n=1)
            await worker.event.wait()
        assert worker.seen == [1]
    # The server's listener and the client's publisher each fell back on the exchange,
    assert fallbacks(caplog, "exchange", exchange) >= 2
    # and the queues bound to it went non-durable with it, as oslo.messaging's do.
    assert await is_nondurable(broker, topic)
    assert await is_nondurable(broker, f"{topic}.s")


async def test_durable_queue_falls_back_alone(
    rabbit_url: str,
    topic: str,
    exchange: str,
    broker: aio_pika.abc.AbstractConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exchange is new (declared durable), only the queue exists non-durable."""
    caplog.set_level(logging.WARNING, logger="drivers.amqp")
    channel = await broker.channel()
    await channel.declare_queue(topic, durable=False)
    url = f"{rabbit_url}?amqp_durable_queues=true&control_exchange={exchange}"
    async with (
        get_rpc_transport(url) as transport,
        get_rpc_server(transport, Target(topic=topic, server="s"), [Worker()]),
    ):
        client = RPCClient(transport, Target(topic=topic), timeout=10)
        assert await client.call({}, "ping") == "pong"
    assert fallbacks(caplog, "queue", topic) == 1
    assert fallbacks(caplog, "exchange", exchange) == 0
    assert await is_nondurable(broker, topic)
    assert not await is_nondurable(broker, f"{topic}.s")  # declared durable, no conflict


async def test_publisher_falls_back_on_nondurable_exchange(
    rabbit_url: str,
    topic: str,
    exchange: str,
    broker: aio_pika.abc.AbstractConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client alone (no server): its first publish redeclares the exchange."""
    caplog.set_level(logging.WARNING, logger="drivers.amqp")
    channel = await broker.channel()
    ex = await channel.declare_exchange(exchange, "topic", durable=False)
    queue = await channel.declare_queue(topic, durable=False)
    await queue.bind(ex, topic)
    url = f"{rabbit_url}?amqp_durable_queues=true&control_exchange={exchange}"
    async with get_rpc_transport(url) as transport:
        client = RPCClient(transport, Target(topic=topic))
        async with asyncio.timeout(15):
            await client.cast({}, "note", n=1)
            await client.cast({}, "note", n=2)  # the replacement channel is reused
    assert fallbacks(caplog, "exchange", exchange) == 1
    declared = await channel.declare_queue(topic, passive=True)
    assert declared.declaration_result.message_count == 2


@pytest.mark.parametrize(
    ("queue_options", "durable_config", "reason"),
    [
        ({"durable": False, "arguments": {"x-expires": 600000}}, False, "x-expires"),
        ({"durable": True, "arguments": {"x-queue-type": "quorum"}}, False, "durable"),
        # The durable fallback happens, then the redeclaration meets another argument.
        ({"durable": False, "arguments": {"x-expires": 600000}}, True, "x-expires"),
    ],
    ids=["x-expires", "quorum-vs-classic", "fallback-then-x-expires"],
)
async def test_other_queue_conflicts_fail_clearly(
    rabbit_url: str,
    topic: str,
    exchange: str,
    broker: aio_pika.abc.AbstractConnection,
    queue_options: dict[str, Any],
    durable_config: bool,
    reason: str,
) -> None:
    channel = await broker.channel()
    await channel.declare_queue(topic, **queue_options)
    url = f"{rabbit_url}?control_exchange={exchange}"
    if durable_config:
        url += "&amqp_durable_queues=true"
    async with get_rpc_transport(url) as transport:
        server = get_rpc_server(transport, Target(topic=topic, server="s"), [Worker()])
        with pytest.raises(TransportError) as info:
            async with asyncio.timeout(15):
                await server.start()
    assert isinstance(info.value, DeclarationConflict)
    message = str(info.value)
    assert f"cannot declare queue '{topic}'" in message
    assert f"inequivalent arg '{reason}'" in message


async def test_other_exchange_conflict_fails_a_publish_at_once(
    rabbit_url: str,
    topic: str,
    exchange: str,
    broker: aio_pika.abc.AbstractConnection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not retried (even with retry=None, 'forever'): the error cannot go away by itself."""
    caplog.set_level(logging.WARNING, logger="drivers.amqp")
    channel = await broker.channel()
    await channel.declare_exchange(exchange, "fanout", durable=False)
    url = f"{rabbit_url}?amqp_durable_queues=true&control_exchange={exchange}"
    async with get_rpc_transport(url) as transport:
        client = RPCClient(transport, Target(topic=topic))
        with pytest.raises(MessageDeliveryFailure) as info:
            async with asyncio.timeout(15):
                await client.cast({}, "note", n=1)
    message = str(info.value)
    assert f"cannot declare exchange '{exchange}'" in message
    assert "inequivalent arg 'type'" in message
    assert fallbacks(caplog, "exchange", exchange) == 0
