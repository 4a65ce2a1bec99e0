"""``direct_reply_to=true``: callers get replies through RabbitMQ's direct reply-to."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aio_pika
import pytest
from aionova.drivers.amqp import AmqpDriver, parse_url
from aionova.rpc import (
    MessagingTimeout,
    RPCClient,
    Target,
    Transport,
    get_rpc_server,
    get_rpc_transport,
)
from aionova.rpc._envelope import encode_reply, unwrap
from amqp_helpers import amqp_url

pytestmark = pytest.mark.rabbit

PREFIX = "amq.rabbitmq.reply-to."


class Worker:
    async def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    async def slow(self, ctxt: dict[str, Any], seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    def fail(self, ctxt: dict[str, Any]) -> None:
        raise ValueError("bad value")


def direct(url: str) -> str:
    return url + "?direct_reply_to=true"


def test_the_option_is_parsed_and_off_by_default() -> None:
    assert parse_url("rabbit://h/").direct_reply_to is False
    assert parse_url("rabbit://h/?direct_reply_to=true").direct_reply_to is True
    with pytest.raises(ValueError, match="direct_reply_to"):
        parse_url("rabbit://h/?direct_reply_to=perhaps")


async def test_calls_get_their_replies_without_a_reply_queue(
    rabbit_url: str, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aionova.drivers.amqp.replies")
    async with (
        get_rpc_transport(rabbit_url) as server_side,
        get_rpc_transport(direct(rabbit_url)) as client_side,
        get_rpc_server(server_side, Target(topic=topic, server="s"), [Worker()]),
    ):
        client = RPCClient(client_side, Target(topic=topic), timeout=10)
        async with asyncio.timeout(30):
            assert await client.call({}, "echo", value=[1, "é"]) == [1, "é"]
            results = await asyncio.gather(*(client.call({}, "echo", value=n) for n in range(64)))
            assert results == list(range(64))
            with pytest.raises(ValueError, match="bad value"):
                await client.call({}, "fail")
            # A long call survives on call-monitor heartbeats sent to the direct address.
            monitored = client.prepare(timeout=30, call_monitor_timeout=2)
            assert await monitored.call({}, "slow", seconds=2.5) == "done"
        address = client_side._replies.known_address
        assert address is not None and address.startswith(PREFIX)
        driver = client_side._driver
        assert isinstance(driver, AmqpDriver) and driver._reply_listener is None
    # The server sent those replies without the mandatory flag: nothing came back.
    assert "returned" not in caplog.text


async def test_the_address_follows_a_new_connection(rabbit_url: str, topic: str) -> None:
    """The direct reply-to name belongs to one connection: after a reconnect, the new one."""
    async with (
        get_rpc_transport(rabbit_url) as server_side,
        get_rpc_transport(direct(rabbit_url) + "&rabbit_retry_interval=0.2") as client_side,
        get_rpc_server(server_side, Target(topic=topic, server="s"), [Worker()]),
    ):
        client = RPCClient(client_side, Target(topic=topic), timeout=10)
        driver = client_side._driver
        assert isinstance(driver, AmqpDriver)
        async with asyncio.timeout(30):
            assert await client.call({}, "echo", value=1) == 1
            before = client_side._replies.known_address
            connection = driver._sub_conn._connection
            assert connection is not None
            await connection.close()  # as a dropped socket would
            assert await client.call({}, "echo", value=2) == 2
        after = client_side._replies.known_address
        assert before and after and before != after and after.startswith(PREFIX)
        assert driver.connections["consume"] == 2


async def test_a_reply_to_a_gone_address_is_dropped_not_retried(
    rabbit_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody consumes there any more: the reply is lost, as direct reply-to has it."""
    caplog.set_level(logging.DEBUG, logger="aionova.drivers.amqp")
    gone = f"{PREFIX}g1h2AA5yZXBseUA0AAAAAAAAAAAAAAAAAA==.{uuid.uuid4().hex}"
    driver = AmqpDriver(rabbit_url)
    try:
        async with asyncio.timeout(10):
            await driver.reply(gone, encode_reply("m1", result=1))
            await driver.reply(gone, encode_reply("m2", result=2))
    finally:
        await driver.close()
    assert "returned" not in caplog.text


async def test_replies_reach_a_direct_caller_from_a_raw_publisher(rabbit_url: str) -> None:
    """Any server publishing to ``_reply_q`` on the default exchange reaches the caller."""
    transport = Transport(AmqpDriver(direct(rabbit_url)))
    async with transport:
        address = await transport._replies.address()
        waiter = transport._replies.register("m-raw", 10, None)
        connection = await aio_pika.connect(amqp_url(rabbit_url))
        async with connection:
            channel = await connection.channel()
            body = encode_reply("m-raw", result={"ok": True})
            message = aio_pika.Message(body, content_type="application/json")
            await channel.default_exchange.publish(message, routing_key=address)
        async with asyncio.timeout(10):
            assert await waiter.future == {"ok": True}
        assert unwrap(body)["_msg_id"] == "m-raw"


async def test_a_call_made_while_reconnecting_waits_for_the_new_address(
    rabbit_url: str, topic: str
) -> None:
    async with (
        get_rpc_transport(rabbit_url) as server_side,
        get_rpc_transport(direct(rabbit_url)) as client_side,
        get_rpc_server(server_side, Target(topic=topic, server="s"), [Worker()]),
    ):
        client = RPCClient(client_side, Target(topic=topic), timeout=10)
        driver = client_side._driver
        assert isinstance(driver, AmqpDriver)
        async with asyncio.timeout(30):
            assert await client.call({}, "echo", value=1) == 1
            connection = driver._sub_conn._connection
            assert connection is not None
            closing = asyncio.create_task(connection.close())
            calls = [asyncio.create_task(client.call({}, "echo", value=n)) for n in range(5)]
            await closing
            done = await asyncio.gather(*calls, return_exceptions=True)
        # Each call either answered or (sent on the old address) timed out: none hangs.
        assert all(r == n or isinstance(r, MessagingTimeout) for n, r in enumerate(done))
        assert await client.call({}, "echo", value=9) == 9
