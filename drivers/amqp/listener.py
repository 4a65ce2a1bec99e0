"""A server's subscription: its three queues, consumed again after every reconnect.

Queues are declared on an aio-pika channel (with oslo.messaging's durable
fallback), then consumed on a ``FastChannel``: each delivery reaches
``on_message`` from the channel's reader, without a task of its own, and its
ack is queued with the other frames of the loop turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aio_pika.abc import AbstractChannel, AbstractConnection
from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.errors import (
    LIBRARY_ERRORS,
    being_cancelled,
    close_quietly,
    lost_if_closed,
    translated,
)
from aionova.drivers.amqp.fastchannel import FastChannel, open_fast_channel
from aionova.drivers.amqp.messages import BadMessage, body_of
from aionova.drivers.amqp.naming import QueueSpec
from aionova.drivers.amqp.settings import AmqpSettings
from aionova.drivers.amqp.topology import Declarer
from aionova.drivers.amqp.window import Window, settle
from aionova.rpc.driver import MessageHandler
from aiormq.abc import DeliveredMessage

LOG = logging.getLogger(__name__)


class AmqpDelivery:
    """One request. ``done()`` acks it in at-least-once mode (late acks), and is a no-op
    otherwise; with late acks ``requeue()`` may settle it instead (notifications)."""

    __slots__ = ("_message", "body")

    def __init__(self, body: bytes, message: DeliveredMessage | None = None) -> None:
        self.body = body
        self._message = message

    def done(self) -> None:
        message, self._message = self._message, None
        if message is not None:
            settle(message, ack=True)

    def requeue(self) -> None:
        """Give the message back to its queue (late acks only; instead of ``done()``)."""
        message, self._message = self._message, None
        if message is not None:
            settle(message, ack=False, requeue=True)


def accept(message: DeliveredMessage, settings: AmqpSettings) -> bytes | None:
    """The body to hand on, or None (logged) for a message that cannot be used."""
    props = message.header.properties
    try:
        return body_of(
            message.body,
            props.content_type,
            props.content_encoding,
            props.headers,
            settings.max_message_size,
        )
    except BadMessage as exc:
        LOG.error("AMQP: discarding message from %s: %s", message.routing_key, exc)
        return None


class AmqpListener:
    """Consumes a list of queues on its own channel; ``stop()``/``close()`` end it."""

    def __init__(
        self,
        connector: Connector,
        settings: AmqpSettings,
        queues: tuple[QueueSpec, ...],
        on_message: MessageHandler,
        *,
        transient: tuple[QueueSpec, ...] = (),
        ack_late: bool = False,
        window: int | None = None,
    ) -> None:
        self._connector = connector
        self._settings = settings
        self._queues = queues
        self._transient = transient  # deleted on close (the private fanout queue)
        self._on_message = on_message
        self._ack_late = ack_late  # at-least-once: ack in Delivery.done()
        self._window = (
            None if window is None else Window(window, on_message, ack_on_hand_over=not ack_late)
        )
        self._prefetch = prefetch_for(settings, window, ack_late)
        # Ack on receipt without a prefetch limit is what no_ack does, minus a frame
        # per message; with a prefetch limit (or late acks) the acks are explicit.
        self._auto_ack = not ack_late and self._prefetch == 0
        self._channel: FastChannel | None = None
        self._consumer_tags: list[str] = []
        self._stopped = False
        self._closed = False

    @property
    def queue_names(self) -> tuple[str, ...]:
        return tuple(q.name for q in self._queues)

    async def start(self) -> None:
        """Declare and consume (raises the mapped error if the first declaration fails)."""
        with translated(f"subscribing to {', '.join(self.queue_names)}"):
            await self._connector.add_setup(self._setup)

    async def _open_channel(self, conn: AbstractConnection) -> AbstractChannel:
        with lost_if_closed(conn):
            return await conn.channel(publisher_confirms=False)

    async def _setup(self, conn: AbstractConnection) -> None:
        if self._stopped:
            return
        if self._window is not None:  # waiting on a dead channel: the broker has them again
            self._window.take_waiting()
        # Declare everything before consuming: the durable fallback replaces the
        # channel (a 406 closes it), which would drop consumers already started.
        declarer = Declarer(await self._open_channel(conn), lambda: self._open_channel(conn))
        consumer: FastChannel | None = None
        timeout = self._settings.connect_timeout
        try:
            for spec in self._queues:
                await declarer.queue(spec)
            with lost_if_closed(conn):
                async with asyncio.timeout(timeout):
                    consumer = await open_fast_channel(conn)
            if self._prefetch > 0:
                await consumer.basic_qos(prefetch_count=self._prefetch, timeout=timeout)
            tags = []
            for spec in self._queues:
                tag = await consumer.consume(spec.name, self._on_delivery, no_ack=self._auto_ack)
                tags.append(tag)
        except BaseException:
            # Leave no channel behind; but a caller being cancelled (its call timed
            # out) does not wait for that: the channel then goes with its connection.
            if not being_cancelled():
                if consumer is not None:
                    await close_quietly(consumer, timeout)
                await close_quietly(declarer.channel, timeout)
            raise
        await close_quietly(declarer.channel, timeout)
        self._channel, self._consumer_tags = consumer, tags

    def _on_delivery(self, message: DeliveredMessage) -> None:
        # Called by the channel's reader, in order, never re-entered.
        if self._stopped:
            if not self._auto_ack and message.delivery_tag is not None:
                settle(message, ack=False, requeue=True)
            return
        body = accept(message, self._settings)
        if body is not None and self._window is not None:
            self._window.offer(body, message)
            return
        late = self._ack_late
        if body is not None:
            self._on_message(AmqpDelivery(body, message if late else None))
        if not self._auto_ack and not (late and body is not None):
            settle(message, ack=body is not None)

    async def stop(self) -> None:
        """Stop consuming: the channel's consumers are cancelled by closing it later."""
        if self._stopped:
            return
        self._stopped = True
        self._connector.remove_setup(self._setup)
        channel = self._channel
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(*LIBRARY_ERRORS):
                async with asyncio.timeout(self._settings.connect_timeout):
                    for tag in self._consumer_tags:
                        await channel.basic_cancel(tag)
        if self._window is not None:  # not handed over: back to the queue, for others
            for message in await self._window.close():
                if not message.channel.is_closed:
                    settle(message, ack=False, requeue=True)

    async def close(self) -> None:
        """Stop, delete the private fanout queue, close the channel (all bounded)."""
        await self.stop()
        if self._closed:
            return
        self._closed = True
        channel, self._channel = self._channel, None
        if channel is None or channel.is_closed:
            return
        with contextlib.suppress(*LIBRARY_ERRORS):
            async with asyncio.timeout(self._settings.connect_timeout):
                await channel.outbox.flush(self._settings.connect_timeout)  # acks, rejects
                for spec in self._transient:
                    await channel.queue_delete(spec.name)
                await channel.close()


def prefetch_for(settings: AmqpSettings, window: int | None, ack_late: bool) -> int:
    """The channel's prefetch count: ``rabbit_qos_prefetch_count`` when set, else the window's.

    With a window of N a listener holds at most N messages waiting beyond those
    handed over: at-most-once acknowledges on hand-over, so the prefetch counts
    the waiting ones (N); at-least-once acknowledges when done, so it counts
    both (2N). Without a window and option: 0, no limit (oslo.messaging's default).
    """
    if settings.prefetch > 0 or window is None:
        return settings.prefetch
    return 2 * window if ack_late else window
