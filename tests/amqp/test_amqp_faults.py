"""Faults: broker restart, a cut TCP connection, retry budgets, malformed messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

import aio_pika
import pytest
from aionova.drivers.amqp import AmqpDriver, parse_url
from aionova.rpc import (
    MessageDeliveryFailure,
    MessagingTimeout,
    RPCClient,
    Target,
    get_rpc_server,
    get_rpc_transport,
)
from amqp_helpers import amqp_url, broker_ctl

pytestmark = pytest.mark.rabbit


class Counter:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def ping(self, ctxt: dict[str, Any]) -> str:
        return "pong"

    async def note(self, ctxt: dict[str, Any], n: int) -> None:
        await asyncio.sleep(0.002)
        self.seen.append(n)


async def call_until_ok(client: RPCClient, deadline: float) -> int:
    """Call ``ping`` until it answers; returns how many calls timed out first."""
    failures = 0
    while True:
        try:
            assert await client.call({}, "ping") == "pong"
            return failures
        except (MessagingTimeout, MessageDeliveryFailure):
            failures += 1
            assert time.monotonic() < deadline, "no answer after the broker came back"


class TcpProxy:
    """127.0.0.1 proxy in front of the broker; ``cut()`` drops every connection."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.port = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> TcpProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        self.cut()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        pair = (writer, up_writer)
        self.pairs.add(pair)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.pairs.discard(pair)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    def cut(self) -> int:
        cut = len(self.pairs)
        for a, b in list(self.pairs):
            a.transport.abort()
            b.transport.abort()
        return cut


async def test_retry_budget_against_a_dead_port() -> None:
    url = (
        "rabbit://guest:guest@127.0.0.1:1/?rabbit_retry_interval=0.05"
        "&rabbit_retry_backoff=0.05&connect_timeout=1"
    )
    driver = AmqpDriver(url)
    try:
        start = time.monotonic()
        with pytest.raises(MessageDeliveryFailure, match="after 1 attempt"):
            await driver.send(Target(topic="t"), b"{}", retry=0)
        with pytest.raises(MessageDeliveryFailure, match="after 3 attempt"):
            await driver.send(Target(topic="t"), b"{}", retry=2)
        assert time.monotonic() - start < 5
    finally:
        await driver.close()


async def test_dropped_tcp_connection_reconnects(rabbit_url: str, topic: str) -> None:
    broker = parse_url(rabbit_url).hosts[0]
    async with TcpProxy(broker.host, broker.port) as proxy:
        url = f"rabbit://{broker.username}:{broker.password}@127.0.0.1:{proxy.port}/"
        async with (
            get_rpc_transport(url) as transport,
            get_rpc_server(transport, Target(topic=topic, server="s"), [Counter()]),
        ):
            client = RPCClient(transport, Target(topic=topic), timeout=2)
            assert await client.call({}, "ping") == "pong"
            assert proxy.cut() == 2  # the publish and the consume connections
            failures = await call_until_ok(client, time.monotonic() + 30)
            assert failures <= 3
            connections = transport._driver.connections  # type: ignore[attr-defined]
            assert connections["publish"] >= 2 and connections["consume"] >= 2


@pytest.fixture
def restart_broker() -> Any:
    """Stop and start the broker (scripts/rabbitmq.sh); makes sure it is up afterwards."""
    yield lambda: asyncio.to_thread(_restart)
    broker_ctl("start")


def _restart() -> None:
    broker_ctl("stop")
    time.sleep(1)
    broker_ctl("start")


async def test_broker_restart_during_calls(
    rabbit_url: str, topic: str, restart_broker: Any
) -> None:
    async with (
        get_rpc_transport(rabbit_url) as transport,
        get_rpc_server(transport, Target(topic=topic, server="s"), [Counter()]),
    ):
        client = RPCClient(transport, Target(topic=topic), timeout=3)
        assert await client.call({}, "ping") == "pong"
        restart = asyncio.create_task(restart_broker())
        slowest = 0.0
        while not restart.done():
            start = time.monotonic()
            with contextlib.suppress(MessagingTimeout, MessageDeliveryFailure):
                await client.call({}, "ping")
            slowest = max(slowest, time.monotonic() - start)
            await asyncio.sleep(0.1)
        await restart
        assert slowest < 3 + 1.0, "a call outlived its timeout"
        await call_until_ok(client, time.monotonic() + 60)


async def test_at_least_once_loses_no_cast_across_restart(
    rabbit_url: str, topic: str, restart_broker: Any
) -> None:
    exchange = f"alo_{uuid.uuid4().hex[:8]}"
    url = f"{rabbit_url}?at_least_once=1&control_exchange={exchange}"
    counter, total = Counter(), 300
    try:
        async with get_rpc_transport(url) as transport:
            server = get_rpc_server(
                transport, Target(topic=topic, server="s"), [counter], max_concurrency=4
            )
            async with server:
                client = RPCClient(transport, Target(topic=topic))
                restart = None
                for n in range(total):
                    await client.cast({}, "note", n=n)
                    if n == total // 3:
                        restart = asyncio.create_task(restart_broker())
                assert restart is not None
                await restart
                async with asyncio.timeout(90):
                    while len(set(counter.seen)) < total:
                        await asyncio.sleep(0.1)
        assert set(counter.seen) == set(range(total))
    finally:
        await _delete(rabbit_url, queues=[topic, f"{topic}.s"], exchanges=[exchange])


async def _delete(url: str, queues: list[str], exchanges: list[str]) -> None:
    connection = await aio_pika.connect(amqp_url(url))
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        for exchange in exchanges:
            await channel.exchange_delete(exchange)


async def test_malformed_messages_are_logged_and_dropped(
    rabbit_url: str,
    topic: str,
    raw_channel: aio_pika.abc.AbstractChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    url = f"{rabbit_url}?max_message_size=100000"
    async with (
        get_rpc_transport(url) as transport,
        get_rpc_server(transport, Target(topic=topic, server="s"), [Counter()]),
    ):
        publish = raw_channel.default_exchange.publish
        json_props = {"content_type": "application/json", "content_encoding": "utf-8"}
        await publish(aio_pika.Message(b"not json {", **json_props), topic)
        await publish(
            aio_pika.Message(json.dumps({"no": "envelope"}).encode(), **json_props), topic
        )
        await publish(
            aio_pika.Message(
                json.dumps({"oslo.version": "2.0", "oslo.message": "[1, 2"}).encode(),
                **json_props,
            ),
            topic,
        )
        await publish(aio_pika.Message(b'{"method": "ping"}', content_type="text/plain"), topic)
        await publish(aio_pika.Message(b'{"method": "ping"}'), topic)  # no content type
        await publish(aio_pika.Message(b"[" + b"1," * 100000 + b"1]", **json_props), topic)
        client = RPCClient(transport, Target(topic=topic), timeout=5)
        assert await client.call({}, "ping") == "pong"
        queue = await raw_channel.declare_queue(topic, passive=True)
        assert queue.declaration_result.message_count == 0
    text = caplog.text
    assert text.count("discarding message") == 3
    assert "content type 'text/plain'" in text and "content type None" in text
    assert "exceeds max_message_size" in text
    assert text.count("malformed") >= 3


async def test_failover_to_the_next_host(rabbit_url: str, topic: str) -> None:
    """A dead host in the list is skipped: the driver connects through the live one."""
    live = parse_url(rabbit_url).hosts[0]
    url = (
        f"rabbit://guest:guest@127.0.0.1:1,{live.username}:{live.password}@{live.host}:"
        f"{live.port}/?rabbit_retry_interval=0.1"
    )
    async with (
        get_rpc_transport(url) as transport,
        get_rpc_server(transport, Target(topic=topic, server="s"), [Counter()]),
    ):
        client = RPCClient(transport, Target(topic=topic), timeout=10)
        assert await client.call({}, "ping") == "pong"
