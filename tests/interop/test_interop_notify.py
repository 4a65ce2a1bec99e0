"""Notifications between aionova and real oslo.messaging on one RabbitMQ, both ways."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import oslo_messaging
import pytest
from aionova.drivers.amqp import parse_url
from aionova.drivers.amqp.connection import broker_url
from oslo_context import context as oslo_context
from oslo_notify_peer import PRIORITIES, OsloListener, ThreadRecorder, oslo_conf

from aionova import rpc

pytestmark = [pytest.mark.rabbit, pytest.mark.interop]

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
SENT = [  # (method, priority the endpoint method is named after)
    ("audit", "audit"),
    ("debug", "debug"),
    ("info", "info"),
    ("warn", "warn"),
    ("warning", "warn"),
    ("error", "error"),
    ("critical", "critical"),
    ("sample", "sample"),
]


class AioRecorder:
    """An aionova endpoint for every priority (async methods)."""

    def __init__(self, answer: Any = None, filter_rule: Any = None) -> None:
        self.seen: list[tuple[str, Any, Any, str, Any, dict[str, Any]]] = []
        self.answer = answer
        if filter_rule is not None:
            self.filter_rule = filter_rule
        for priority in PRIORITIES:
            setattr(self, priority, self._method(priority))

    def _method(self, priority: str) -> Any:
        async def record(
            ctxt: Any, publisher_id: Any, event_type: str, payload: Any, md: Any
        ) -> Any:
            self.seen.append((priority, ctxt, publisher_id, event_type, payload, md))
            return self.answer(event_type) if self.answer else None

        return record

    @property
    def events(self) -> list[str]:
        return [s[3] for s in self.seen]

    async def wait_for(self, count: int, within: float = 20) -> None:
        async with asyncio.timeout(within):
            while len(self.seen) < count:
                await asyncio.sleep(0.02)


@pytest.fixture
def pools() -> list[str]:
    return []


def pool_name(pools: list[str]) -> str:
    name = f"interop_pool_{uuid.uuid4().hex[:8]}"
    pools.append(name)
    return name


@pytest.fixture
async def aio(rabbit_url: str, topic: str, pools: list[str]) -> AsyncIterator[rpc.Transport]:
    async with rpc.get_notification_transport(rabbit_url) as transport:
        yield transport
    settings = parse_url(rabbit_url)
    connection = await aio_pika.connect(str(broker_url(settings, settings.hosts[0])))
    try:
        for name in [f"{topic}.{p}" for p in PRIORITIES] + pools:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.close()
    finally:
        await connection.close()


@pytest.fixture
def oslo(rabbit_url: str) -> Iterator[Any]:
    transport = oslo_messaging.get_notification_transport(oslo_conf(), url=rabbit_url)
    yield transport
    transport.cleanup()


def oslo_ctxt() -> Any:
    return oslo_context.RequestContext(
        user_id="u-oslo", project_id="p-oslo", request_id="req-oslo", auth_token="s3cr3t"
    )


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
async def test_oslo_notifier_to_aionova_listener(
    driver: str, aio: rpc.Transport, oslo: Any, topic: str
) -> None:
    notifier = oslo_messaging.Notifier(oslo, "compute.host1", driver=driver, topics=[topic])
    rec = AioRecorder()
    lst = rpc.get_notification_listener(aio, [rpc.Target(topic=topic)], [rec])
    async with lst:
        for method, _ in SENT:
            payload = {"method": method, "nested": {"n": [1, "é"]}}
            await asyncio.to_thread(getattr(notifier, method), oslo_ctxt(), f"ev.{method}", payload)
        await rec.wait_for(len(SENT))
    by_event = {s[3]: s for s in rec.seen}
    for method, priority in SENT:
        got, ctxt, publisher, _, payload, metadata = by_event[f"ev.{method}"]
        assert got == priority
        assert publisher == "compute.host1"
        assert payload == {"method": method, "nested": {"n": [1, "é"]}}
        assert ctxt["user"] == "u-oslo" and ctxt["request_id"] == "req-oslo"
        assert ctxt.get("auth_token") is None
        assert uuid.UUID(metadata["message_id"]).version == 4
        assert TIMESTAMP.match(metadata["timestamp"])


@pytest.mark.parametrize("driver", ["messagingv2", "messaging"])
async def test_aionova_notifier_to_oslo_listener(
    driver: str, aio: rpc.Transport, oslo: Any, topic: str
) -> None:
    notifier = rpc.Notifier(aio, "compute.host2", driver=driver, topics=[topic])
    rec = ThreadRecorder()
    ctxt = {"user": "u-aio", "project_id": "p-aio", "auth_token": "s3cr3t"}
    async with OsloListener(oslo, topic, [rec]):
        for method, _ in SENT:
            await getattr(notifier, method)(ctxt, f"ev.{method}", {"method": method, "x": [None]})
        await rec.wait_for(len(SENT))
    by_event = {s[3]: s for s in rec.seen}
    for method, priority in SENT:
        got, received, publisher, _, payload, metadata = by_event[f"ev.{method}"]
        assert got == priority
        assert publisher == "compute.host2"
        assert payload == {"method": method, "x": [None]}
        assert received["user"] == "u-aio" and received["project_id"] == "p-aio"
        assert "auth_token" not in received
        assert uuid.UUID(metadata["message_id"]).version == 4
        assert TIMESTAMP.match(metadata["timestamp"])


async def test_pools_on_both_sides(
    aio: rpc.Transport, oslo: Any, topic: str, pools: list[str]
) -> None:
    """One pool shared by an oslo and an aionova listener splits the stream; another
    pool and the pool-less listeners each get all of it, whoever sent it."""
    shared, other = pool_name(pools), pool_name(pools)
    aio_shared, oslo_shared, aio_other = AioRecorder(), ThreadRecorder(), AioRecorder()
    aio_plain, oslo_plain = AioRecorder(), ThreadRecorder()
    target = [rpc.Target(topic=topic)]
    ours = [
        rpc.get_notification_listener(aio, target, [aio_shared], pool=shared),
        rpc.get_notification_listener(aio, target, [aio_other], pool=other),
        rpc.get_notification_listener(aio, target, [aio_plain]),
    ]
    theirs = [
        OsloListener(oslo, topic, [oslo_shared], pool=shared),
        OsloListener(oslo, topic, [oslo_plain]),
    ]
    aio_notifier = rpc.Notifier(aio, "aio", topics=[topic])
    oslo_notifier = oslo_messaging.Notifier(oslo, "oslo", driver="messagingv2", topics=[topic])
    for lst in ours:
        await lst.start()
    try:
        async with theirs[0], theirs[1]:
            for n in range(20):
                await aio_notifier.info({}, "ev", {"n": n})
                await asyncio.to_thread(oslo_notifier.info, {}, "ev", {"n": 100 + n})
            async with asyncio.timeout(30):
                while len(aio_shared.seen) + len(oslo_shared.seen) < 40:
                    await asyncio.sleep(0.05)
                while len(aio_plain.seen) + len(oslo_plain.seen) < 40:
                    await asyncio.sleep(0.05)
            await aio_other.wait_for(40)
    finally:
        for lst in ours:
            await lst.stop()
            await lst.wait(10)
    every = sorted([*range(20), *range(100, 120)])

    def numbers(*recs: Any) -> list[int]:
        return sorted(s[4]["n"] for r in recs for s in r.seen)

    assert numbers(aio_shared, oslo_shared) == every and aio_shared.seen and oslo_shared.seen
    assert numbers(aio_plain, oslo_plain) == every and aio_plain.seen and oslo_plain.seen
    assert numbers(aio_other) == every


async def test_filters_on_both_sides(
    aio: rpc.Transport, oslo: Any, topic: str, pools: list[str]
) -> None:
    theirs, ours = pool_name(pools), pool_name(pools)
    aio_filtered = AioRecorder(
        filter_rule=rpc.NotificationFilter(
            publisher_id="^compute", event_type=r".*\.end$", payload={"state": "^active$"}
        )
    )
    oslo_filtered = ThreadRecorder(
        filter_rule=oslo_messaging.NotificationFilter(
            publisher_id="^compute", event_type=r".*\.end$", payload={"state": "^active$"}
        )
    )
    aio_all, oslo_all = AioRecorder(), ThreadRecorder()
    sends = [
        ("compute.h", "x.end", {"state": "active"}),
        ("compute.h", "x.start", {"state": "active"}),
        ("api.h", "x.end", {"state": "active"}),
        ("compute.h", "y.end", {"state": "error"}),
        ("compute.h", "z.end", {"state": "active"}),
    ]
    aio_notifier = rpc.Notifier(aio, topics=[topic])
    oslo_notifier = oslo_messaging.Notifier(oslo, driver="messagingv2", topics=[topic])
    target = [rpc.Target(topic=topic)]
    async with (
        OsloListener(oslo, topic, [oslo_filtered, oslo_all], pool=theirs),
        rpc.get_notification_listener(aio, target, [aio_filtered, aio_all], pool=ours),
    ):
        for publisher, event, payload in sends:
            await aio_notifier.prepare(publisher_id=publisher).info({}, event, payload)
            await asyncio.to_thread(
                oslo_notifier.prepare(publisher_id=publisher).info, {}, event, payload
            )
        await aio_all.wait_for(10)
        await oslo_all.wait_for(10)
    assert sorted(aio_filtered.events) == ["x.end", "x.end", "z.end", "z.end"]
    assert sorted(oslo_filtered.events) == ["x.end", "x.end", "z.end", "z.end"]


async def test_requeue_on_both_sides(
    aio: rpc.Transport, oslo: Any, topic: str, pools: list[str]
) -> None:
    """Each side requeues the other's notification once, then handles it."""
    theirs, ours = pool_name(pools), pool_name(pools)

    def requeue_first() -> Any:
        counts: dict[str, int] = {}

        def answer(event_type: str) -> Any:
            counts[event_type] = counts.get(event_type, 0) + 1
            if counts[event_type] == 1:
                return oslo_messaging.NotificationResult.REQUEUE
            return oslo_messaging.NotificationResult.HANDLED

        return answer

    assert oslo_messaging.NotificationResult.REQUEUE == rpc.NotificationResult.REQUEUE
    aio_rec, oslo_rec = AioRecorder(requeue_first()), ThreadRecorder(requeue_first())
    target = [rpc.Target(topic=topic)]
    async with (
        OsloListener(oslo, topic, [oslo_rec], pool=theirs, allow_requeue=True),
        rpc.get_notification_listener(aio, target, [aio_rec], pool=ours, allow_requeue=True),
    ):
        await rpc.Notifier(aio, "aio", topics=[topic]).info({}, "from.aio", {})
        oslo_notifier = oslo_messaging.Notifier(oslo, "oslo", driver="messagingv2", topics=[topic])
        await asyncio.to_thread(oslo_notifier.info, {}, "from.oslo", {})
        await aio_rec.wait_for(4)
        await oslo_rec.wait_for(4)
    assert sorted(aio_rec.events) == ["from.aio", "from.aio", "from.oslo", "from.oslo"]
    assert sorted(oslo_rec.events) == ["from.aio", "from.aio", "from.oslo", "from.oslo"]
