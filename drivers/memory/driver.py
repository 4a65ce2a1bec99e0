"""MemoryDriver: the ``aionova.rpc.driver.Driver`` protocol over an in-process Bus.

``memory://`` is the default bus; ``memory://NAME`` a separate one. Drivers
with the same name in one process share a bus, so a client transport and a
server transport talk as they would through a broker.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from aionova.drivers.memory import notify as notifications
from aionova.drivers.memory.bus import Bus, BusStatistics, Consumer
from aionova.rpc._target import Target
from aionova.rpc.driver import MessageHandler, NotificationHandler, ReplyHandler

# Registry of live buses by name; a bus lives while a driver holds it.
_BUSES: weakref.WeakValueDictionary[str, Bus] = weakref.WeakValueDictionary()


def bus_for(name: str) -> Bus:
    bus = _BUSES.get(name)
    if bus is None:
        bus = _BUSES[name] = Bus(name)
    return bus


class MemoryListener:
    def __init__(self, bus: Bus, consumer: Consumer, queues: list[str], fanout: str) -> None:
        self._bus, self._consumer, self._queues, self._fanout = bus, consumer, queues, fanout

    async def stop(self) -> None:
        self._consumer.active = False
        for queue in self._queues:
            self._bus.cancel(queue, self._consumer)

    async def close(self) -> None:
        await self.stop()
        self._bus.delete(self._fanout)


class MemoryDriver:
    """In-process transport; see ``aionova.rpc.driver`` for the contract."""

    def __init__(self, url: str = "memory://") -> None:
        parts = urlsplit(url)
        self.bus = bus_for(parts.netloc + parts.path.rstrip("/"))
        query = parse_qs(parts.query)
        self.control_exchange = query.get("control_exchange", ["openstack"])[0]
        self._reply_name: str | None = None
        self._listeners: list[MemoryListener | notifications.MemoryNotificationListener] = []

    def statistics(self) -> BusStatistics:
        return self.bus.statistics()

    async def join(self, timeout: float = 10.0) -> None:
        """Wait until every message delivered on this bus has been processed."""
        await self.bus.join(timeout)

    async def send(
        self,
        target: Target,
        body: bytes,
        *,
        timeout: float | None = None,
        retry: int | None = None,
        mandatory: bool = False,
    ) -> None:
        topic = target.topic or ""
        if target.fanout:
            self.bus.publish_fanout(f"{topic}_fanout", body)
            return
        key = f"{topic}.{target.server}" if target.server else topic
        exchange = target.exchange or self.control_exchange
        self.bus.publish(exchange, key, body, ttl=timeout, mandatory=mandatory)

    async def reply(self, reply_to: str, body: bytes) -> None:
        self.bus.reply(reply_to, body)

    async def reply_address(self, on_reply: ReplyHandler) -> str:
        if self._reply_name is None:
            self._reply_name = f"reply_{os.urandom(16).hex()}"
            self.bus.add_replier(self._reply_name, on_reply)
        return self._reply_name

    async def listen(
        self, target: Target, on_message: MessageHandler, *, window: int | None = None
    ) -> MemoryListener:
        topic, server = target.topic or "", target.server or ""
        exchange = target.exchange or self.control_exchange
        fanout_queue = f"{topic}_fanout_{os.urandom(16).hex()}"
        self.bus.declare(topic, exchange, topic)
        self.bus.declare(f"{topic}.{server}", exchange, f"{topic}.{server}")
        self.bus.declare_fanout(fanout_queue, f"{topic}_fanout")
        consumer = Consumer(on_message, window)
        queues = [topic, f"{topic}.{server}", fanout_queue]
        for queue in queues:
            self.bus.consume(queue, consumer)
        listener = MemoryListener(self.bus, consumer, queues, fanout_queue)
        self._listeners.append(listener)
        return listener

    async def notify(self, target: Target, body: bytes, *, retry: int | None = None) -> None:
        notifications.publish(self.bus, self.control_exchange, target, body)

    async def listen_for_notifications(
        self,
        targets_and_priorities: Sequence[tuple[Target, str]],
        pool: str | None,
        on_message: NotificationHandler,
        *,
        transient: bool = False,
    ) -> notifications.MemoryNotificationListener:
        listener = notifications.listen(
            self.bus,
            self.control_exchange,
            targets_and_priorities,
            pool,
            on_message,
            transient=transient,
        )
        self._listeners.append(listener)
        return listener

    async def close(self) -> None:
        for listener in self._listeners:
            await listener.close()
        self._listeners.clear()
        if self._reply_name is not None:
            self.bus.remove_replier(self._reply_name)
            self._reply_name = None

    def __repr__(self) -> str:
        return f"<MemoryDriver bus={self.bus.name!r}>"
