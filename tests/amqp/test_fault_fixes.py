"""Bugs found by fault testing over RabbitMQ, each reproduced against the real broker."""

from __future__ import annotations

import asyncio
import errno
import logging
import time
import uuid
from typing import Any

import aio_pika
import aiormq
import pytest
from aionova.drivers.amqp import AmqpDriver
from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.errors import ConnectionLost, is_connection_error, lost_if_closed
from aionova.drivers.amqp.naming import DEFAULT_EXCHANGE
from aionova.drivers.amqp.publisher import Publisher
from aionova.drivers.amqp.settings import parse_url
from aionova.rpc import (
    MessageDeliveryFailure,
    MessagingTimeout,
    RPCClient,
    Target,
    TransportError,
    get_rpc_server,
    get_rpc_transport,
)
from aionova.rpc._envelope import decode_reply, encode_reply
from amqp_helpers import amqp_url, next_message
from pamqp.commands import Basic

pytestmark = pytest.mark.rabbit


def returned(caplog: pytest.LogCaptureFixture) -> int:
    return sum("returned (no such queue)" in r.getMessage() for r in caplog.records)


async def test_concurrent_replies_to_a_queue_declared_late_all_arrive(
    rabbit_url: str,
    raw_channel: aio_pika.abc.AbstractChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Twenty replies returned at once are each retried until the queue exists.

    They used to share one AMQP message id, so aiormq matched the returns to
    one publish and took the others as delivered: 1-5 of 20 arrived.
    """
    caplog.set_level(logging.DEBUG, logger="aionova.drivers.amqp.replies")
    driver = AmqpDriver(rabbit_url + "?kombu_missing_consumer_retry_timeout=20")
    name = f"reply_{uuid.uuid4().hex}"
    try:
        sends = [
            asyncio.create_task(driver.reply(name, encode_reply(f"m{n}", result=n)))
            for n in range(20)
        ]
        async with asyncio.timeout(10):  # every reply came back at least once (or "arrived")
            while returned(caplog) < 20 and not all(s.done() for s in sends):
                await asyncio.sleep(0.01)
        queue = await raw_channel.declare_queue(name, arguments={"x-expires": 60000})
        async with asyncio.timeout(15):
            await asyncio.gather(*sends)
        results = [decode_reply((await next_message(queue, 5)).body).result for _ in range(20)]
        assert sorted(results) == list(range(20))
        assert "Unhandled message" not in caplog.text  # aiormq's log of a mismatched return
    finally:
        await driver.close()
        await raw_channel.queue_delete(name)


async def queue_exists(rabbit_url: str, name: str) -> bool:
    """A passive declaration on a connection of its own (a 404 closes the channel)."""
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
        return True


async def test_close_deletes_the_reply_queue(rabbit_url: str, topic: str) -> None:
    async with (
        get_rpc_transport(rabbit_url) as server_transport,
        get_rpc_server(server_transport, Target(topic=topic, server="s"), [Echo()]),
    ):
        transport = get_rpc_transport(rabbit_url)
        client = RPCClient(transport, Target(topic=topic), timeout=10)
        assert await client.call({}, "echo", value=1) == 1
        reply_q = transport._replies.known_address
        assert reply_q is not None and await queue_exists(rabbit_url, reply_q)
        await transport.close()
        assert not await queue_exists(rabbit_url, reply_q)


class Echo:
    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value


class SilentBroker:
    """A TCP listener that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> SilentBroker:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.append(writer)

    def url(self, query: str = "") -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.port}/{query}"


async def test_a_calls_timeout_bounds_connecting() -> None:
    """The connect timeout is 10 s; the call's 2 s bound everything it waits for."""
    async with SilentBroker() as broker, get_rpc_transport(broker.url()) as transport:
        client = RPCClient(transport, Target(topic="t"), timeout=2)
        for _ in range(2):  # the first call's set-up, then a second call's again
            start = time.monotonic()
            with pytest.raises(MessagingTimeout, match="reply queue"):
                await client.call({}, "ping")
            assert 1.9 < time.monotonic() - start < 3.0
        assert broker.accepted >= 1


async def test_a_call_timing_out_in_set_up_leaves_the_transport_usable(
    rabbit_url: str, topic: str
) -> None:
    """The reply queue is created by the next call once the broker answers."""
    async with get_rpc_transport(rabbit_url) as transport:
        client = RPCClient(transport, Target(topic=topic), timeout=10)
        with pytest.raises(MessagingTimeout):
            await client.prepare(timeout=0.0001).call({}, "echo", value=1)
        async with get_rpc_server(transport, Target(topic=topic, server="s"), [Echo()]):
            assert await client.call({}, "echo", value=2) == 2


async def test_casts_against_a_silent_broker_keep_their_retry_semantics() -> None:
    async with SilentBroker() as broker:
        url = broker.url("?connect_timeout=0.5&rabbit_retry_interval=0.1&rabbit_retry_backoff=0")
        async with get_rpc_transport(url) as transport:
            client = RPCClient(transport, Target(topic="t"))
            start = time.monotonic()
            with pytest.raises(MessageDeliveryFailure, match="after 1 attempt"):
                await client.prepare(retry=0).cast({}, "ping")
            assert time.monotonic() - start < 3
            # retry=None: tries again and again (each attempt a new connection), never fails.
            forever = asyncio.create_task(client.cast({}, "ping"))
            async with asyncio.timeout(10):
                while broker.accepted < 4:
                    await asyncio.sleep(0.05)
            assert not forever.done()
            forever.cancel()
            with pytest.raises(asyncio.CancelledError):
                await forever


# -- the retry list: connection failures only ------------------------------


class BuggyProperties(Basic.Properties):
    """Properties whose encoding fails: a bug in the publish path, injected."""

    def marshal(self) -> bytes:
        raise RuntimeError("injected bug")


async def test_a_programming_error_in_publish_surfaces_at_once(rabbit_url: str) -> None:
    """RuntimeError used to count as "connection lost": retry=None retried it forever."""
    driver = AmqpDriver(rabbit_url)
    try:
        props = BuggyProperties(content_type="application/json")
        async with asyncio.timeout(5):
            with pytest.raises(RuntimeError, match="injected bug"):
                await driver._publisher.publish(DEFAULT_EXCHANGE, "nowhere", b"{}", props)
            # The connection is fine and still used.
            await driver.send(Target(topic=f"t_{uuid.uuid4().hex[:8]}"), b"{}", retry=None)
    finally:
        await driver.close()


async def test_a_missing_certificate_file_is_no_connection_failure(rabbit_url: str) -> None:
    """A FileNotFoundError (an OSError) is a settings error: reported at once, not retried."""
    url = rabbit_url + "?ssl=1&ssl_ca_file=/nonexistent/ca.pem"
    async with get_rpc_transport(url) as transport:
        client = RPCClient(transport, Target(topic="t"), timeout=30)
        async with asyncio.timeout(5):
            with pytest.raises(MessageDeliveryFailure, match="FileNotFoundError"):
                await client.cast({}, "ping")  # retry=None
            with pytest.raises(MessageDeliveryFailure, match="FileNotFoundError"):
                await client.cast({}, "ping")  # the next one too, without waiting
            with pytest.raises(TransportError, match="FileNotFoundError"):
                await client.call({}, "ping")


async def test_a_closed_connections_runtime_error_is_a_lost_connection(rabbit_url: str) -> None:
    """aio-pika's "Connection was not opened" is mapped, and only on a closed connection."""
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    with pytest.raises(RuntimeError) as other, lost_if_closed(connection):
        raise RuntimeError("a bug while the connection is open")
    assert type(other.value) is RuntimeError
    await connection.close()
    with (
        pytest.raises(ConnectionLost, match="Connection was not opened"),
        lost_if_closed(connection),
    ):
        connection.channel()


async def test_a_channel_on_a_connection_the_broker_closed_is_a_lost_connection(
    rabbit_url: str,
) -> None:
    """The broker closed the connection (a node stopping): aio-pika still calls itself
    open, aiormq refuses a channel with a plain RuntimeError; that is a lost connection."""
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    try:
        assert connection.transport is not None
        await connection.transport.connection.close()  # as the broker's Connection.Close does
        assert not connection.is_closed
        with pytest.raises(ConnectionLost, match="closed"), lost_if_closed(connection):
            await connection.channel()
    finally:
        await connection.close()


async def test_a_re_setup_that_fails_on_the_channel_is_tried_again_on_a_new_connection(
    rabbit_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscription whose re-setup after a reconnect fails for a connection-level
    reason (a declaration timing out while a quorum queue elects its leader) is set up
    again on a new connection, not left unsubscribed while the connection stays open."""
    connector = Connector(parse_url(rabbit_url + "?rabbit_retry_interval=0.1"), "consume")
    runs: list[int] = []
    again = asyncio.Event()

    async def setup(conn: aio_pika.abc.AbstractConnection) -> None:
        runs.append(connector.connects)
        if len(runs) == 2:  # the first re-setup, on a connection that is still open
            raise TimeoutError("queue.declare: no answer within 10s")
        if len(runs) == 3:
            again.set()

    try:
        await connector.add_setup(setup)
        first = await connector.get()
        assert first.transport is not None
        await first.transport.connection.close()  # as the broker's Connection.Close does
        async with asyncio.timeout(10):
            await again.wait()
        assert runs == [1, 2, 3]  # the failed re-setup's connection was replaced
        assert (await connector.get()) is not first
        assert any("reconnecting to try again" in r.getMessage() for r in caplog.records)
    finally:
        await connector.close()


async def test_a_re_setup_that_fails_for_another_reason_is_logged_not_looped(
    rabbit_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A setup failing for a reason a new connection cannot cure (a bug, a declaration
    conflict) is logged once; the connection and the other setups go on."""
    connector = Connector(parse_url(rabbit_url + "?rabbit_retry_interval=0.1"), "consume")
    runs: list[int] = []

    async def broken(conn: aio_pika.abc.AbstractConnection) -> None:
        runs.append(connector.connects)
        if len(runs) > 1:
            raise ValueError("a bug in the setup")

    try:
        await connector.add_setup(broken)
        first = await connector.get()
        assert first.transport is not None
        await first.transport.connection.close()
        async with asyncio.timeout(10):
            while connector.connects < 2 or not connector.is_connected:
                await asyncio.sleep(0.05)
        second = await connector.get()
        assert runs == [1, 2] and connector.connects == 2
        assert not second.is_closed
        failed = [r for r in caplog.records if "re-setup after reconnect failed" in r.getMessage()]
        assert len(failed) == 1 and "a bug in the setup" in failed[0].getMessage()
    finally:
        await connector.close()


@pytest.mark.parametrize("mandatory", [False, True])
async def test_a_publish_the_broker_refuses_is_tried_again_on_a_new_channel(
    rabbit_url: str,
    raw_channel: aio_pika.abc.AbstractChannel,
    caplog: pytest.LogCaptureFixture,
    mandatory: bool,
) -> None:
    """A ``Basic.Nack`` (here a full queue with ``reject-publish``; after a failover, a
    quorum queue refusing what comes through a channel opened before it) retires the
    channel: each attempt goes through a new one, and so does the next publish."""
    name = f"full-{uuid.uuid4().hex[:8]}"
    queue = await raw_channel.declare_queue(
        name, auto_delete=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
    )
    settings = parse_url(rabbit_url + "?rabbit_retry_interval=0.05")
    connector = Connector(settings, "publish")
    publisher = Publisher(connector, settings)

    def channel() -> object:
        return publisher._channel if mandatory else publisher._fast.get(True)

    try:
        await publisher.publish(DEFAULT_EXCHANGE, name, b"1", None, mandatory=mandatory)
        first = channel()
        with pytest.raises(MessageDeliveryFailure, match="gave up after 2 attempt"):
            await publisher.publish(
                DEFAULT_EXCHANGE, name, b"2", None, mandatory=mandatory, retry=1
            )
        refused = [r for r in caplog.records if "refused a publish" in r.getMessage()]
        assert len(refused) == 2  # both attempts, each on its own channel
        assert channel() is None and first is not None
        await queue.purge()
        await publisher.publish(DEFAULT_EXCHANGE, name, b"3", None, mandatory=mandatory)
        assert channel() is not None and channel() is not first
    finally:
        await publisher.close()
        await connector.close()


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectionResetError(), True),
        (BrokenPipeError(), True),
        (TimeoutError(), True),
        (OSError(errno.EHOSTUNREACH, "No route to host"), True),
        (aiormq.exceptions.AMQPConnectionError("refused"), True),
        (aiormq.exceptions.ChannelInvalidStateError("closed"), True),
        (ConnectionLost("gone"), True),
        (RuntimeError("a bug"), False),
        (FileNotFoundError(errno.ENOENT, "ca.pem"), False),
        (PermissionError(errno.EACCES, "key.pem"), False),
        (TypeError("a bug"), False),
        (TransportError("driver closed"), False),
    ],
)
def test_the_retry_list(error: BaseException, retried: bool) -> None:
    assert is_connection_error(error) is retried


async def test_a_reply_queue_that_stays_missing_is_given_up_then_skipped(
    rabbit_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Returned for ``kombu_missing_consumer_retry_timeout``: dropped, then the queue is obsolete.

    The reply is not confirmed: ``reply()`` returns at once and the returns are
    handled behind it, as oslo.messaging's server does in place.
    """
    caplog.set_level(logging.INFO, logger="aionova.drivers.amqp.replies")
    driver = AmqpDriver(rabbit_url + "?kombu_missing_consumer_retry_timeout=1")
    name = f"reply_{uuid.uuid4().hex}"
    try:
        async with asyncio.timeout(10):
            await driver.reply(name, encode_reply("m1", result=1))
            while "reply dropped" not in caplog.text:
                await asyncio.sleep(0.05)
            await driver.reply(name, encode_reply("m2", result=2))
        assert f"dropping reply to obsolete queue {name}" in caplog.text
    finally:
        await driver.close()
