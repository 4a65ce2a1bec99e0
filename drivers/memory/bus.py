"""In-process message routing with RabbitMQ's rules, as oslo.messaging lays them out.

Exchanges bind exact routing keys to named queues (the control exchange is a
topic exchange whose keys never use wildcards); fanout exchanges copy to every
bound queue. A queue with consumers hands each message to one of them in turn;
a queue without consumers keeps messages (until their time to live); a message
routed to no queue is dropped. Delivery is event-driven: the consumer's
callback runs as the message is routed (callbacks only hand work off, as the
driver contract requires). A consumer with a *window* is handed at most that
many messages not yet settled; the others wait in their queue, and settling
one hands over the next, as a broker's prefetch limit does.
A queue declared with a ``max_length`` keeps its newest messages when nobody
consumes (RabbitMQ's ``x-max-length``, ``drop-head``): what it drops is counted
(``overflowed``) and logged.
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
    """One subscriber; several queues may feed it. ``window`` None: no limit."""

    __slots__ = ("active", "handler", "outstanding", "queues", "turn", "waiting", "window")

    def __init__(self, handler: Handler, window: int | None = None) -> None:
        self.handler = handler
        self.active = True
        self.window = window
        self.outstanding = 0  # handed over, not yet settled
        self.queues: list[Queue] = []
        self.turn = 0  # which of its queues refills it first, in turn
        self.waiting = False  # messages wait in its queues for its room


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

    def pick(self) -> Consumer | None:
        """The next consumer in turn that has room, or None."""
        consumers = self.consumers
        for _ in range(len(consumers)):
            self.next = (self.next + 1) % len(consumers)
            consumer = consumers[self.next]
            if consumer.window is None or consumer.outstanding < consumer.window:
                return consumer
        return None


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
        q = self._queues.pop(queue, None)
        for queues in self._bound_in.pop(queue, ()):
            queues.discard(queue)
        if q is not None:
            for consumer in q.consumers:
                consumer.queues.remove(q)

    def consume(self, queue: str, consumer: Consumer) -> None:
        q = self._queues[queue]
        q.consumers.append(consumer)
        consumer.queues.append(q)
        self._drain(q)

    def cancel(self, queue: str, consumer: Consumer) -> None:
        q = self._queues.get(queue)
        if q is not None and consumer in q.consumers:
            q.consumers.remove(consumer)
            consumer.queues.remove(q)

    def _drain(self, queue: Queue) -> None:
        """Hand pending messages to consumers with room, oldest first."""
        while queue.pending:
            consumer = queue.pick()
            if consumer is None:  # all full: settling makes room
                for full in queue.consumers:
                    full.waiting = True
                return
            body = self._pop(queue)
            if body is None:
                return
            self._hand_over(consumer, body)

    def _pop(self, queue: Queue) -> bytes | None:
        """The oldest pending body still within its time to live (expired ones go)."""
        pending = queue.pending
        now = None
        while pending:
            body, deadline = pending.popleft()
            if deadline is None:
                return body
            if now is None:
                now = time.monotonic()
            if now <= deadline:
                return body
            self.expired += 1
        return None

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
        if queue.consumers and not queue.pending:
            consumer = queue.pick()
            if consumer is not None:
                self._hand_over(consumer, body)
                return
        if len(queue.pending) == queue.pending.maxlen:
            self._overflow(queue)
        # No consumer, or none with room: only a waiting message can outlive its TTL.
        queue.pending.append((body, None if ttl is None else time.monotonic() + ttl))
        for consumer in queue.consumers:
            consumer.waiting = True

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

    def _hand_over(self, consumer: Consumer, body: bytes) -> None:
        self._unsettled += 1
        self.delivered += 1
        consumer.outstanding += 1
        _call(consumer.handler, MemoryDelivery(body, self, consumer))

    def settle(self, consumer: Consumer) -> None:
        """A delivery was processed: the consumer has room for the next one waiting."""
        self._unsettled -= 1
        consumer.outstanding -= 1
        if consumer.waiting and consumer.active:
            self._refill(consumer)
        self._check_idle()

    def _refill(self, consumer: Consumer) -> None:
        """Hand the consumer what waits in its queues while it has room.

        Its queues take turns (the one after the last served is looked at
        first), so a busy topic queue does not starve the server's own queue.
        """
        queues, window = consumer.queues, consumer.window
        count = len(queues)
        turn = consumer.turn
        while window is None or consumer.outstanding < window:
            for step in range(count):
                queue = queues[(turn + step) % count]
                if queue.pending:
                    break
            else:
                consumer.waiting = False
                return
            turn = (turn + step + 1) % count
            consumer.turn = turn
            body = self._pop(queue)
            if body is not None:
                self._hand_over(consumer, body)

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

    __slots__ = ("_bus", "_consumer", "body")

    def __init__(self, body: bytes, bus: Bus, consumer: Consumer) -> None:
        self.body = body
        self._bus: Bus | None = bus
        self._consumer = consumer

    def done(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.settle(self._consumer)
