"""Notifications on RabbitMQ: the queues and messages oslo.messaging's rabbit driver makes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import aiormq
import pytest
from aionova.drivers.amqp import parse_url
from aionova.drivers.amqp.notify import listen_queues, notification_queue
from aionova.rpc import (
    Notifier,
    Target,
    get_notification_listener,
    get_notification_transport,
)
from amqp_helpers import amqp_url, broker_ctl

pytestmark = pytest.mark.rabbit


@pytest.fixture
async def channel(rabbit_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    yield await connection.channel()
    await connection.close()


async def redeclare(rabbit_url: str, name: str, **flags: Any) -> aiormq.spec.Queue.DeclareOk:
    """Declare ``name`` again on a fresh channel; a 406 means other flags or arguments."""
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, **flags)
        result: aiormq.spec.Queue.DeclareOk = queue.declaration_result
        return result
    finally:
        await connection.close()


async def drop(rabbit_url: str, *names: str) -> None:
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    try:
        for name in names:
            channel = await connection.channel()
            await channel.queue_delete(name)
    finally:
        await connection.close()


def test_queue_specs_follow_oslo() -> None:
    plain = parse_url("rabbit://h/")
    spec = notification_queue(plain, Target(topic="notifications.info"), "notifications.info")
    assert (spec.name, spec.routing_key, spec.durable, spec.auto_delete) == (
        "notifications.info",
        "notifications.info",
        False,
        False,
    )
    assert spec.exchange is not None and spec.exchange.name == "openstack"
    assert dict(spec.arguments) == {}
    quorum = parse_url("rabbit://h/?rabbit_quorum_queue=true&control_exchange=nova")
    spec = notification_queue(quorum, Target(topic="n.error"), "n.error")
    assert spec.durable and dict(spec.arguments) == {"x-queue-type": "quorum"}
    assert spec.exchange is not None and spec.exchange.name == "nova" and spec.exchange.durable
    pairs = [(Target(topic="n", exchange="x"), "info"), (Target(topic="n"), "error")]
    queues, owned = listen_queues(plain, pairs, "pool1")
    assert [(q.name, q.routing_key, q.exchange and q.exchange.name) for q in queues] == [
        ("pool1", "n.info", "x"),
        ("pool1", "n.error", "openstack"),
    ]
    assert owned == ()
    queues, owned = listen_queues(plain, pairs, "watch", transient=True)
    assert owned == (queues[0],) and queues[0].arguments == {"x-expires": 1800 * 1000}


async def test_first_publish_declares_the_key_queue(
    rabbit_url: str, topic: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    key = f"{topic}.info"
    async with get_notification_transport(rabbit_url) as transport:
        await Notifier(transport, "compute.h", topics=[topic]).info({"user": "u"}, "ev", {"a": 1})
    try:
        # the flags oslo.messaging's notify_send declares with by default: accepted as they are
        ok = await redeclare(rabbit_url, key, durable=False, auto_delete=False, arguments={})
        assert ok.message_count == 1
        with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
            await redeclare(rabbit_url, key, durable=True)
        queue = await channel.get_queue(key)
        message = await queue.get(timeout=5)
        assert message is not None
        assert message.exchange == "openstack" and message.routing_key == key
        assert message.content_type == "application/json"
        assert message.content_encoding == "utf-8"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert set(json.loads(message.body)) == {"oslo.version", "oslo.message"}
        await message.ack()
    finally:
        await drop(rabbit_url, key)


async def test_durable_queues_option(rabbit_url: str, topic: str) -> None:
    exchange = f"ntf_durable_{uuid.uuid4().hex[:8]}"
    url = f"{rabbit_url}?amqp_durable_queues=true&control_exchange={exchange}"
    key = f"{topic}.error"
    async with get_notification_transport(url) as transport:
        await Notifier(transport, "p", topics=[topic]).error({}, "ev", {})
    try:
        assert (await redeclare(rabbit_url, key, durable=True)).message_count == 1
    finally:
        await drop(rabbit_url, key)
        connection = await aio_pika.connect(amqp_url(rabbit_url))
        await (await connection.channel()).exchange_delete(exchange)
        await connection.close()


async def test_pool_queue_is_named_after_the_pool(rabbit_url: str, topic: str) -> None:
    pool = f"pool_{uuid.uuid4().hex[:8]}"

    class Info:
        def info(self, *args: Any) -> None: ...

        def error(self, *args: Any) -> None: ...

    async with get_notification_transport(rabbit_url) as transport:
        lst = get_notification_listener(transport, [Target(topic=topic)], [Info()], pool=pool)
        async with lst:
            ok = await redeclare(rabbit_url, pool, durable=False, arguments={})
            assert ok.consumer_count == 2  # one per (target, priority), as oslo.messaging has
            with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
                await redeclare(rabbit_url, f"{topic}.info", passive=True)
    await drop(rabbit_url, pool)


@pytest.fixture
def broker_back_up() -> Any:
    """Makes sure the broker runs again after the test."""
    yield
    broker_ctl("start")


async def test_broker_restart_redeclares_and_waits(
    rabbit_url: str, topic: str, broker_back_up: None, caplog: pytest.LogCaptureFixture
) -> None:
    """While the broker is down a notification sent with ``retry=0`` is dropped (logged,
    not raised) and one sent with ``retry=None`` waits; when the broker is back (its
    non-durable queues lost) the queue is declared again and the notification kept."""
    url = f"{rabbit_url}?rabbit_retry_interval=0.2&connect_timeout=2"
    async with get_notification_transport(url) as transport:
        patient = Notifier(transport, "p", topics=[topic])
        hasty = patient.prepare(retry=0)
        await patient.info({}, "ev.before", {})  # declares <topic>.info
        await asyncio.to_thread(broker_ctl, "stop")
        try:
            async with asyncio.timeout(30):
                await hasty.info({}, "ev.dropped", {})
            assert any("ev.dropped" in r.getMessage() for r in caplog.records)
            waiting = asyncio.create_task(patient.info({}, "ev.during", {}))
        finally:
            await asyncio.to_thread(broker_ctl, "start")
        async with asyncio.timeout(90):
            await waiting
        seen: list[str] = []

        class Info:
            def info(self, ctxt: Any, pub: Any, event_type: str, *rest: Any) -> None:
                seen.append(event_type)

        async with get_notification_listener(transport, [Target(topic=topic)], [Info()]):
            async with asyncio.timeout(20):
                while not seen:
                    await asyncio.sleep(0.05)
    assert seen == ["ev.during"]  # "ev.before" went with the old queue
    await drop(rabbit_url, f"{topic}.info")
