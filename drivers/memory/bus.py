"""In-process message routing with RabbitMQ's rules, as oslo.messaging lays them out.

Exchanges bind exact routing keys to named queues (the control exchange is a
topic exchange whose keys never use wildcards); fanout exchanges copy to every
bound queue. A queue with consumers hands each message to one of them in turn;
a queue without consumers keeps messages (until their time to live); a message
routed to no queue is dropped. Delivery is event-driven: the consumer's
callback runs as the message is routed (callbacks only hand work off, as the
driver contract requires). A queue declared with a ``max_length`` keeps its newest
messages when nobody consumes (RabbitMQ's ``x-max-length``, ``drop-head``): what
it drops is counted (``overflowed``) and logged.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from aionova.rpc.errors import MessageUndeliverable

LOG = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class BusStatistics(msgspec.Struct, frozen=True):
    """Counters since the bus was created, and what is waiting now."""

    published: int
    delivered: int
    unroutable: int
    expired: int
    replies: int
    unsettled: int
    pending: dict[str, int]
    overflowed: int = 0


class Consumer:
    """One subscriber; several queues may feed it."""

    __slots__ = ("active", "handler")

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.active = True


class Queue:
    __slots__ = ("consumers", "name", "next", "overflowed", "pending")

    def __init__(self, name: str, max_length: int | None = None) -> None:
        self.name = name
        self.pending: collections.deque[tuple[bytes, float | None]] = collections.deque(
            maxlen=max_length
        )
        self.consumers: list[Consumer] = []
        self.next = 0
        self.overflowed = 0

    def pick(self) -> Consumer:
        self.next = (self.next + 1) % len(self.consumers)
        return self.consumers[self.next]


class Bus:
    """One named in-process broker, shared by every memory driver with its name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queues: dict[str, Queue] = {}
        self._bindings: dict[tuple[str, str], set[str]] = {}  # (exchange, key) → queues
        self._fanout: dict[str, set[str]] = {}  # fanout exchange → queues
        # queue → the queue sets above that hold it, so a delete is not a full scan
        self._bound_in: dict[str, list[set[str]]] = {}
        self._repliers: dict[str, Handler] = {}
        self.published = self.delivered = self.unroutable = self.expired = self.replies = 0
        self.overflowed = 0
        self._unsettled = 0
        self._idle: asyncio.Event | None = None

    # -- topology ----------------------------------------------------------

    def declare(
        self, queue: str, exchange: str, key: str, *, max_length: int | None = None
    ) -> None:
        """Create ``queue`` if needed (keeping at most ``max_length`` waiting messages)
        and bind it to ``exchange`` with ``key``."""
        if queue not in self._queues:
            self._queues[queue] = Queue(queue, max_length)
        self._bind(queue, self._bindings.setdefault((exchange, key), set()))

    def declare_fanout(self, queue: str, exchange: str) -> None:
        self._queues.setdefault(queue, Queue(queue))
        self._bind(queue, self._fanout.setdefault(exchange, set()))

    def _bind(self, queue: str, queues: set[str]) -> None:
        if queue not in queues:
            queues.add(queue)
            self._bound_in.setdefault(queue, []).append(queues)

    def delete(self, queue: str) -> None:
        """Remove a queue, its bindings and its pending messages."""
        self._queues.pop(queue, None)
        for queues in self._bound_in.pop(queue, ()):
            queues.discard(queue)

    def consume(self, queue: str, consumer: Consumer) -> None:
        q = self._queues[queue]
        q.consumers.append(consumer)
        now = time.monotonic()
        while q.pending:
            body, deadline = q.pending.popleft()
            if deadline is not None and now > deadline:
                self.expired += 1
            else:
                self._hand_over(q, body)

    def cancel(self, queue: str, consumer: Consumer) -> None:
        q = self._queues.get(queue)
        if q is not None and consumer in q.consumers:
            q.consumers.remove(consumer)

    # -- messages ----------------------------------------------------------

    def publish(
        self, exchange: str, key: str, body: bytes, *, ttl: float | None, mandatory: bool
    ) -> None:
        """Route ``body``; ``ttl`` seconds bounds how long it may wait in a queue."""
        self.published += 1
        names = self._bindings.get((exchange, key))
        if not names:
            self.unroutable += 1
            if mandatory:
                raise MessageUndeliverable(f"no queue bound to {exchange!r} with key {key!r}")
            return
        for name in names:
            self._enqueue(self._queues[name], body, ttl)

    def publish_fanout(self, exchange: str, body: bytes) -> None:
        self.published += 1
        names = self._fanout.get(exchange)
        if not names:
            self.unroutable += 1
            return
        for name in names:
            self._enqueue(self._queues[name], body, None)

    def put_back(self, queue: str, body: bytes) -> bool:
        """Return a delivered body to ``queue`` (a requeue); False if the queue is gone."""
        q = self._queues.get(queue)
        if q is None:
            return False
        self._enqueue(q, body, None)
        return True

    def _enqueue(self, queue: Queue, body: bytes, ttl: float | None) -> None:
        if queue.consumers:
            self._hand_over(queue, body)
            return
        if len(queue.pending) == queue.pending.maxlen:
            self._overflow(queue)
        # only a waiting message can outlive its time to live
        queue.pending.append((body, None if ttl is None else time.monotonic() + ttl))

    def _overflow(self, queue: Queue) -> None:
        """The oldest waiting message of a full queue goes (the append drops it)."""
        self.overflowed += 1
        queue.overflowed += 1
        if queue.overflowed == 1 or queue.overflowed % 1000 == 0:
            LOG.warning(
                "memory bus %s: queue %r is full (%d waiting, nobody consumes); "
                "its oldest messages are dropped (%d so far)",
                self.name,
                queue.name,
                queue.pending.maxlen,
                queue.overflowed,
            )

    def _hand_over(self, queue: Queue, body: bytes) -> None:
        self._unsettled += 1
        self.delivered += 1
        _call(queue.pick().handler, MemoryDelivery(body, self))

    def settle(self) -> None:
        self._unsettled -= 1
        self._check_idle()

    def _check_idle(self) -> None:
        if self._unsettled == 0 and self._idle is not None:
            self._idle.set()

    # -- replies -----------------------------------------------------------

    def add_replier(self, name: str, handler: Handler) -> None:
        self._repliers[name] = handler

    def remove_replier(self, name: str) -> None:
        self._repliers.pop(name, None)

    def reply(self, name: str, body: bytes) -> None:
        handler = self._repliers.get(name)
        if handler is None:
            raise MessageUndeliverable(f"no reply queue {name!r}")
        self.replies += 1
        _call(handler, body)

    # -- observation -------------------------------------------------------

    def statistics(self) -> BusStatistics:
        return BusStatistics(
            published=self.published,
            delivered=self.delivered,
            unroutable=self.unroutable,
            expired=self.expired,
            replies=self.replies,
            unsettled=self._unsettled,
            pending={n: len(q.pending) for n, q in self._queues.items() if q.pending},
            overflowed=self.overflowed,
        )

    async def join(self, timeout: float = 10.0) -> None:
        """Wait until every delivered message has been processed and settled."""
        async with asyncio.timeout(timeout):
            while self._unsettled:
                self._idle = self._idle or asyncio.Event()
                self._idle.clear()
                await self._idle.wait()


def _call(handler: Handler, arg: Any) -> None:
    """Run a consumer's callback in place; per the driver contract it only hands off."""
    try:
        handler(arg)
    except Exception:
        LOG.exception("memory bus: a consumer callback raised")


class MemoryDelivery:
    """A message handed to a consumer; ``done()`` settles it on the bus."""

    __slots__ = ("_bus", "body")

    def __init__(self, body: bytes, bus: Bus) -> None:
        self.body = body
        self._bus = bus

    def done(self) -> None:
        bus, self._bus = self._bus, None  # type: ignore[assignment]
        if bus is not None:
            bus.settle()
