"""What the rabbit:// driver puts on the wire, observed with raw aio-pika."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import aiormq
import pytest
from aionova.drivers.amqp import AmqpDriver
from aionova.rpc import RPCClient, Target, get_rpc_server
from aionova.rpc._transport import Transport
from amqp_helpers import next_message

pytestmark = pytest.mark.rabbit


class Echo:
    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    async def slow(self, ctxt: dict[str, Any], seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"


def unwrap(body: bytes) -> dict[str, Any]:
    outer = json.loads(body)
    assert outer["oslo.version"] == "2.0"
    assert isinstance(outer["oslo.message"], str)
    return json.loads(outer["oslo.message"])


def wrap(message: dict[str, Any]) -> bytes:
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(message)}).encode()


def oslo_message(body: bytes, **props: Any) -> aio_pika.Message:
    return aio_pika.Message(
        body, content_type="application/json", content_encoding="utf-8", **props
    )


async def test_listen_declares_exactly_oslo_topology(
    driver: AmqpDriver, raw_channel: aio_pika.abc.AbstractChannel, topic: str
) -> None:
    listener = await driver.listen(Target(topic=topic, server="s1"), lambda d: None)
    reply_q = await driver.reply_address(lambda body: None)
    fanout_q = next(n for n in listener.queue_names if n.startswith(f"{topic}_fanout_"))
    ch = raw_channel
    # Redeclaring with oslo.messaging's exact flags and arguments is accepted (no 406) …
    await ch.declare_exchange("openstack", "topic", durable=False, auto_delete=False)
    await ch.declare_exchange(f"{topic}_fanout", "fanout", durable=False, auto_delete=True)
    for name in (topic, f"{topic}.s1"):
        await ch.declare_queue(name, durable=False, auto_delete=False, arguments={})
    for name in (fanout_q, reply_q):
        await ch.declare_queue(
            name, durable=False, auto_delete=False, arguments={"x-expires": 1800000}
        )
    # … while a different argument is refused, so the check above means something.
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
        await ch.declare_queue(topic, durable=False, arguments={"x-expires": 1800000})


async def test_listener_close_deletes_its_fanout_queue(
    driver: AmqpDriver, raw_channel: aio_pika.abc.AbstractChannel, topic: str
) -> None:
    listener = await driver.listen(Target(topic=topic, server="s1"), lambda d: None)
    fanout_q = listener.queue_names[2]
    await listener.close()
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
        await raw_channel.declare_queue(fanout_q, passive=True)


async def test_call_request_wire_format(
    rabbit_url: str, raw_channel: aio_pika.abc.AbstractChannel, topic: str
) -> None:
    """An aionova call, served by hand: envelope, keys, properties, and the reply path."""
    exchange = await raw_channel.declare_exchange("openstack", "topic")
    queue = await raw_channel.declare_queue(topic, arguments={})
    await queue.bind(exchange, topic)
    async with Transport(AmqpDriver(rabbit_url)) as transport:
        client = RPCClient(
            transport,
            Target(topic=topic, version="1.2", namespace="ns"),
            timeout=7,
            call_monitor_timeout=4,
        )
        call = asyncio.create_task(client.call({"user": "u1"}, "echo", value=[1, "a"]))
        request = await next_message(queue)
        assert request.content_type == "application/json"
        assert request.content_encoding == "utf-8"
        assert request.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert request.headers.get("expiration") is None
        # The call's time to live, less what setting up its reply queue took (the
        # call's timeout bounds the whole call, as later calls' TTL is exactly 7000).
        assert 6000 < int(request.properties.expiration) <= 7000
        assert request.routing_key == topic and request.exchange == "openstack"
        msg = unwrap(request.body)
        assert msg["method"] == "echo" and msg["args"] == {"value": [1, "a"]}
        assert (msg["namespace"], msg["version"], msg["_timeout"]) == ("ns", "1.2", 4)
        assert msg["_context_user"] == "u1"
        assert len(msg["_msg_id"]) == 32 and len(msg["_unique_id"]) == 32
        assert msg["_reply_q"].startswith("reply_")
        # Reply by hand the way an oslo server does: default exchange, mandatory.
        await raw_channel.default_exchange.publish(
            oslo_message(
                wrap(
                    {
                        "result": "ok",
                        "failure": None,
                        "ending": True,
                        "_msg_id": msg["_msg_id"],
                        "_unique_id": uuid.uuid4().hex,
                    }
                )
            ),
            routing_key=msg["_reply_q"],
            mandatory=True,
        )
        assert await asyncio.wait_for(call, 10) == "ok"


async def test_cast_has_no_expiration_and_no_reply_keys(
    rabbit_url: str, raw_channel: aio_pika.abc.AbstractChannel, topic: str
) -> None:
    exchange = await raw_channel.declare_exchange("openstack", "topic")
    queue = await raw_channel.declare_queue(f"{topic}.h1", arguments={})
    await queue.bind(exchange, f"{topic}.h1")
    fanout = await raw_channel.declare_exchange(f"{topic}_fanout", "fanout", auto_delete=True)
    fanout_q = await raw_channel.declare_queue(f"{topic}_fanout_x", exclusive=True)
    await fanout_q.bind(fanout, topic)
    async with Transport(AmqpDriver(rabbit_url)) as transport:
        client = RPCClient(transport, Target(topic=topic))
        await client.prepare(server="h1").cast({"k": "v"}, "poke", n=1)
        await client.prepare(fanout=True).cast({}, "poke", n=2)
    direct, fanned = await next_message(queue), await next_message(fanout_q)
    for message in (direct, fanned):
        assert message.properties.expiration is None
        assert message.content_type == "application/json"
        msg = unwrap(message.body)
        assert "_msg_id" not in msg and "_reply_q" not in msg and "_timeout" not in msg
        assert len(msg["_unique_id"]) == 32
    assert unwrap(direct.body)["_context_k"] == "v"
    assert fanned.exchange == f"{topic}_fanout"


async def raw_call(
    channel: aio_pika.abc.AbstractChannel, topic: str, message: dict[str, Any]
) -> tuple[aio_pika.abc.AbstractQueue, str]:
    reply_q = await channel.declare_queue(
        f"reply_{uuid.uuid4().hex}", arguments={"x-expires": 1800000}
    )
    msg_id = uuid.uuid4().hex
    body = {**message, "_msg_id": msg_id, "_reply_q": reply_q.name, "_unique_id": uuid.uuid4().hex}
    await channel.default_exchange.publish(oslo_message(wrap(body)), routing_key=topic)
    return reply_q, msg_id


async def test_reply_wire_format_and_heartbeats(
    rabbit_url: str, raw_channel: aio_pika.abc.AbstractChannel, topic: str
) -> None:
    async with Transport(AmqpDriver(rabbit_url)) as transport:
        server = get_rpc_server(transport, Target(topic=topic, server="s1"), [Echo()])
        async with server:
            reply_q, msg_id = await raw_call(
                raw_channel,
                topic,
                {
                    "method": "slow",
                    "args": {"seconds": 2.5},
                    "_timeout": 2,
                    "_context_request_id": "req-1",
                },
            )
            replies = []
            while True:
                message = await next_message(reply_q)
                assert message.exchange == "" and message.routing_key == reply_q.name
                assert message.content_type == "application/json"
                replies.append(unwrap(message.body))
                if replies[-1]["ending"]:
                    break
    *beats, final = replies
    assert len(beats) >= 2
    for beat in beats:
        assert (beat["result"], beat["failure"], beat["ending"], beat["_msg_id"]) == (
            None,
            None,
            False,
            msg_id,
        )
    assert (final["result"], final["failure"], final["_msg_id"]) == ("done", None, msg_id)
    assert set(final) == {"result", "failure", "ending", "_msg_id", "_unique_id"}


async def test_reply_is_mandatory_and_retried_until_the_queue_exists(
    rabbit_url: str, raw_channel: aio_pika.abc.AbstractChannel, topic: str
) -> None:
    """The reply queue appears 1 s late: the returned reply is published again."""
    url = rabbit_url + "?kombu_missing_consumer_retry_timeout=10"
    async with (
        Transport(AmqpDriver(url)) as tr,
        get_rpc_server(tr, Target(topic=topic, server="s1"), [Echo()]),
    ):
        name = f"reply_{uuid.uuid4().hex}"
        body = {"method": "echo", "args": {"value": 5}, "_msg_id": "m1", "_reply_q": name}
        await raw_channel.default_exchange.publish(oslo_message(wrap(body)), topic)
        await asyncio.sleep(1.0)
        reply_q = await raw_channel.declare_queue(name, arguments={"x-expires": 1800000})
        reply = unwrap((await next_message(reply_q)).body)
    assert (reply["result"], reply["ending"], reply["_msg_id"]) == (5, True, "m1")


async def test_mandatory_request_to_missing_queue_is_undeliverable(
    driver: AmqpDriver, topic: str
) -> None:
    from aionova.rpc import MessageUndeliverable

    with pytest.raises(MessageUndeliverable):
        await driver.send(Target(topic=topic), b"{}", mandatory=True)
    await driver.send(Target(topic=topic), b"{}")  # not mandatory: silently dropped


async def test_a_cast_returns_once_the_broker_has_it(
    rabbit_url: str, raw_channel: aio_pika.abc.AbstractChannel, topic: str
) -> None:
    """Casts wait for the publisher confirm (calls do not: their reply confirms them)."""
    exchange = await raw_channel.declare_exchange("openstack", "topic", durable=False)
    queue = await raw_channel.declare_queue(topic, durable=False)
    await queue.bind(exchange, topic)
    async with Transport(AmqpDriver(rabbit_url)) as transport:
        client = RPCClient(transport, Target(topic=topic))
        for n in range(1, 21):
            await client.cast({}, "note", n=n)
            declared = await raw_channel.declare_queue(topic, passive=True)
            assert declared.declaration_result.message_count == n
    await queue.delete(if_unused=False, if_empty=False)
