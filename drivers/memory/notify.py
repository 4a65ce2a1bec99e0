"""Notifications on the in-process bus, laid out as oslo.messaging lays them on RabbitMQ.

Publishing to ``<topic>.<priority>`` first declares the queue named after the
key (so notifications wait for a consumer); a pool-less listener consumes
those queues, a pool's listeners one queue named after the pool, bound to
every key. Deliveries are acknowledged or requeued (put back on their queue).

Unlike RabbitMQ's, these queues live in the process's memory, and nobody outside
the process can ever drain them: each keeps at most ``NOTIFICATION_QUEUE_LENGTH``
waiting notifications, the newest (a service on ``memory://`` that emits for days
with no listener does not grow without bound).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aionova.drivers.memory.bus import Bus, Consumer, Handler, MemoryDelivery
from aionova.rpc._target import Target
from aionova.rpc.driver import NotificationHandler

LOG = logging.getLogger(__name__)
NOTIFICATION_QUEUE_LENGTH = 10_000


class MemoryNotification:
    """A notification handed to a listener; settled once by ``done()`` or ``requeue()``."""

    __slots__ = ("_bus", "_delivery", "_queue", "body")

    def __init__(self, delivery: MemoryDelivery, bus: Bus, queue: str) -> None:
        self.body = delivery.body
        self._delivery = delivery
        self._bus = bus
        self._queue = queue

    def done(self) -> None:
        self._delivery.done()

    def requeue(self) -> None:
        if not self._bus.put_back(self._queue, self.body):
            LOG.warning("memory bus: queue %r is gone; requeued notification dropped", self._queue)
        self._delivery.done()


class MemoryNotificationListener:
    """One consumer per queue (so a delivery knows where a requeue goes)."""

    def __init__(self, bus: Bus, consumers: dict[str, Consumer], transient: str | None) -> None:
        self._bus = bus
        self._consumers = consumers
        self._transient = transient

    async def stop(self) -> None:
        for queue, consumer in self._consumers.items():
            consumer.active = False
            self._bus.cancel(queue, consumer)

    async def close(self) -> None:
        await self.stop()
        if self._transient is not None:
            self._bus.delete(self._transient)
            self._transient = None


def publish(bus: Bus, control_exchange: str, target: Target, body: bytes) -> None:
    """Declare the queue named after the routing key (idempotent), then route ``body``."""
    exchange = target.exchange or control_exchange
    key = target.topic or ""
    bus.declare(key, exchange, key, max_length=NOTIFICATION_QUEUE_LENGTH)
    bus.publish(exchange, key, body, ttl=None, mandatory=False)


def listen(
    bus: Bus,
    control_exchange: str,
    targets_and_priorities: Sequence[tuple[Target, str]],
    pool: str | None,
    on_message: NotificationHandler,
    *,
    transient: bool = False,
) -> MemoryNotificationListener:
    """Bind and consume the queues of ``targets_and_priorities`` (or the pool's queue)."""
    queues: list[str] = []
    for target, priority in targets_and_priorities:
        key = f"{target.topic}.{priority}"
        queue = pool or key
        exchange = target.exchange or control_exchange
        bus.declare(queue, exchange, key, max_length=NOTIFICATION_QUEUE_LENGTH)
        if queue not in queues:
            queues.append(queue)
    consumers: dict[str, Consumer] = {}
    for queue in queues:
        consumers[queue] = consumer = Consumer(_handler(bus, queue, on_message))
        bus.consume(queue, consumer)
    return MemoryNotificationListener(bus, consumers, pool if pool and transient else None)


def _handler(bus: Bus, queue: str, on_message: NotificationHandler) -> Handler:
    def hand_over(delivery: MemoryDelivery) -> None:
        on_message(MemoryNotification(delivery, bus, queue))

    return hand_over
