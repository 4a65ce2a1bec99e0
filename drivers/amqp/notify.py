"""Notifications on RabbitMQ, declared and published as oslo.messaging's rabbit driver does.

Publishing (``notify_send``): the control exchange (topic; durable and
auto-delete as the RPC topic exchange), routing key ``<topic>.<priority>``.
Before the first publish to a key on a connection, a queue named after the
key is declared and bound (durable as the exchange, auto-delete as
configured, ``x-ha-policy`` / ``x-queue-type`` as the RPC topic queues, no
``x-expires``), so notifications wait for their consumers.

Listening (``listen_for_notifications``): per (target, priority) a queue
bound with ``<topic>.<priority>``, named after the key, or after the pool
when there is one, with the same flags; one consumer per pair, as oslo
has. A transient pool queue (watchers) is the subscription's own: it
expires like a fanout queue and is deleted on close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from aio_pika.abc import AbstractChannel, AbstractConnection
from aionova.drivers.amqp import naming
from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.errors import (
    LIBRARY_ERRORS,
)
from aionova.drivers.amqp.messages import properties
from aionova.drivers.amqp.naming import QueueSpec
from aionova.drivers.amqp.publisher import Publisher
from aionova.drivers.amqp.retrying import with_retries
from aionova.drivers.amqp.settings import AmqpSettings
from aionova.drivers.amqp.topology import Declarer
from aionova.rpc._target import Target

LOG = logging.getLogger(__name__)
_SPEC_CACHE = 1024  # (exchange, routing key) pairs whose queue specs are kept


def notification_queue(
    settings: AmqpSettings, target: Target, key: str, name: str | None = None
) -> QueueSpec:
    """The queue for ``key`` on ``target``'s exchange: named ``name`` (a pool) or ``key``."""
    exchange = naming.topic_exchange(settings, target)
    return QueueSpec(
        name or key,
        durable=exchange.durable,
        auto_delete=exchange.auto_delete,
        arguments=naming.shared_queue_arguments(settings),
        exchange=exchange,
        routing_key=key,
    )


def listen_queues(
    settings: AmqpSettings,
    targets_and_priorities: Sequence[tuple[Target, str]],
    pool: str | None,
    *,
    transient: bool = False,
) -> tuple[tuple[QueueSpec, ...], tuple[QueueSpec, ...]]:
    """(queues to consume, queues to delete on close) for a notification listener."""
    specs = []
    for target, priority in targets_and_priorities:
        spec = notification_queue(settings, target, f"{target.topic}.{priority}", pool)
        if transient:
            spec = replace(
                spec,
                durable=settings.transient_quorum_queues,
                auto_delete=False,
                arguments=naming.transient_queue_arguments(settings),
            )
        specs.append(spec)
    return tuple(specs), (specs[0],) if transient and specs else ()


class NotificationSender:
    """Declares each key's queue once per connection, then publishes through ``Publisher``."""

    def __init__(self, connector: Connector, publisher: Publisher, settings: AmqpSettings) -> None:
        self._connector = connector
        self._publisher = publisher
        self._settings = settings
        self._conn: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._declared: set[tuple[str, str]] = set()
        self._specs: dict[tuple[str | None, str], QueueSpec] = {}
        self._lock = asyncio.Lock()

    async def send(self, target: Target, body: bytes, retry: int | None) -> None:
        key = target.topic or ""
        spec = self._specs.get((target.exchange, key))
        if spec is None:
            if len(self._specs) >= _SPEC_CACHE:
                self._specs.clear()
            spec = self._specs[target.exchange, key] = notification_queue(
                self._settings, target, key
            )
        await self._ensure(spec, retry)
        assert spec.exchange is not None
        await self._publisher.publish(spec.exchange, key, body, properties(), retry=retry)

    async def _ensure(self, spec: QueueSpec, retry: int | None) -> None:
        """Declare ``spec`` unless done on this connection; ``retry`` as for publishing."""
        await with_retries(
            self._connector,
            self._settings,
            f"declaring notification queue {spec.name!r}",
            lambda: self._declare(spec),
            retry,
        )

    async def _declare(self, spec: QueueSpec) -> None:
        assert spec.exchange is not None
        ident = (spec.exchange.name, spec.name)
        conn = await self._connector.get()
        if conn is self._conn and ident in self._declared:
            return
        async with self._lock:
            if conn is not self._conn:  # a new connection: the broker may have lost them
                self._conn, self._channel, self._declared = conn, None, set()
            if ident in self._declared:
                return
            channel = self._channel
            if channel is None or channel.is_closed:
                channel = await self._open_channel(conn)
            declarer = Declarer(channel, lambda: self._open_channel(conn))
            try:
                async with asyncio.timeout(self._settings.connect_timeout):
                    await declarer.queue(spec)
            finally:  # the durable fallback replaces a channel a 406 closed
                self._channel = declarer.channel
            self._declared.add(ident)

    async def _open_channel(self, conn: AbstractConnection) -> AbstractChannel:
        channel = conn.channel(publisher_confirms=False)
        async with asyncio.timeout(self._settings.connect_timeout):
            await channel.initialize()
        return channel

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            try:
                async with asyncio.timeout(self._settings.connect_timeout):
                    await channel.close()
            except LIBRARY_ERRORS as exc:
                LOG.debug("AMQP: closing the notification declare channel: %s", exc)
