"""Endpoints and probes for the notification tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import msgspec
from aionova.drivers.amqp import parse_url
from aionova.drivers.amqp.connection import broker_url
from aionova.rpc.driver import RequeueableDelivery
from aionova.rpc.notify._wire import PRIORITIES

from aionova import rpc


def amqp_url(url: str) -> str:
    """The aio-pika URL of the first host of a ``rabbit://`` URL."""
    settings = parse_url(url)
    return str(broker_url(settings, settings.hosts[0]))


def new_pool(pools: list[str]) -> str:
    """A pool name of the test's own (deleted afterwards on RabbitMQ)."""
    name = f"pool_{uuid.uuid4().hex[:10]}"
    pools.append(name)
    return name


async def delete_queues(url: str, names: list[str]) -> None:
    connection = await aio_pika.connect(amqp_url(url))
    try:
        for name in names:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.close()
    finally:
        await connection.close()


Seen = tuple[str, Any, Any, str, Any, dict[str, Any]]


class Recorder:
    """An endpoint for every priority; records ``(priority, ctxt, publisher_id,
    event_type, payload, metadata)`` and answers ``answer(event_type, payload)``."""

    def __init__(
        self, answer: Callable[[str, Any], Any] | None = None, *, filter_rule: Any = None
    ) -> None:
        self.seen: list[Seen] = []
        self.answer = answer
        if filter_rule is not None:
            self.filter_rule = filter_rule
        self._changed = asyncio.Condition()

    async def _note(self, priority: str, *args: Any) -> Any:
        async with self._changed:
            self.seen.append((priority, *args))
            self._changed.notify_all()
        return self.answer(args[2], args[3]) if self.answer else None

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Seen]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.seen) >= count)
        return list(self.seen)

    @property
    def events(self) -> list[str]:
        return [s[3] for s in self.seen]

    async def audit(self, *args: Any) -> Any:
        return await self._note("audit", *args)

    async def debug(self, *args: Any) -> Any:
        return await self._note("debug", *args)

    async def info(self, *args: Any) -> Any:
        return await self._note("info", *args)

    async def warn(self, *args: Any) -> Any:
        return await self._note("warn", *args)

    async def error(self, *args: Any) -> Any:
        return await self._note("error", *args)

    async def critical(self, *args: Any) -> Any:
        return await self._note("critical", *args)

    async def sample(self, *args: Any) -> Any:
        return await self._note("sample", *args)


class PlainInfo:
    """A synchronous endpoint that only takes ``info``."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def info(self, ctxt: Any, publisher_id: Any, event_type: str, payload: Any, md: Any) -> None:
        self.seen.append((ctxt, publisher_id, event_type, payload, md))


class Raw:
    """Bodies received at the driver level (acknowledged at once)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._arrived = asyncio.Event()
        self._settling: set[asyncio.Future[None]] = set()

    def on_message(self, delivery: RequeueableDelivery) -> None:
        self.bodies.append(delivery.body)
        self._arrived.set()
        settled = delivery.done()
        if settled is not None:
            future = asyncio.ensure_future(settled)
            self._settling.add(future)
            future.add_done_callback(self._settling.discard)

    async def wait(self, count: int = 1, timeout: float = 10.0) -> list[bytes]:
        async with asyncio.timeout(timeout):
            while len(self.bodies) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.bodies

    def decoded(self, index: int = -1) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.json.decode(self.bodies[index])
        return result


@asynccontextmanager
async def raw_listener(
    transport: rpc.Transport, topic: str, priorities: tuple[str, ...] = PRIORITIES, **kw: Any
) -> AsyncIterator[Raw]:
    """Consume ``<topic>.<priority>`` at the driver level."""
    raw = Raw()
    pairs = [(rpc.Target(topic=topic, **kw), p) for p in priorities]
    listener = await transport._driver.listen_for_notifications(pairs, None, raw.on_message)  # type: ignore[attr-defined]
    try:
        yield raw
    finally:
        await listener.close()


async def queue_depth(url: str, transport: rpc.Transport, queue: str) -> int:
    """Messages ready in ``queue`` (memory bus or RabbitMQ)."""
    if url.startswith("memory"):
        stats = transport._driver.statistics()  # type: ignore[attr-defined]
        pending: int = stats.pending.get(queue, 0)
        return pending
    connection = await aio_pika.connect(amqp_url(url))
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)
    finally:
        await connection.close()


def unwrap(body: bytes) -> dict[str, Any]:
    """The inner message of a messagingv2 body."""
    outer = msgspec.json.decode(body)
    assert set(outer) == {"oslo.version", "oslo.message"}
    assert outer["oslo.version"] == "2.0"
    inner: dict[str, Any] = msgspec.json.decode(outer["oslo.message"])
    return inner
