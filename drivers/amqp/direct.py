"""RabbitMQ's direct reply-to as the caller's reply address (``?direct_reply_to=true``).

Instead of a ``reply_<uuid>`` queue the caller consumes the pseudo-queue
``amq.rabbitmq.reply-to`` (no acks): a reply published to the default
exchange with the routing key ``amq.rabbitmq.reply-to.<key>`` goes straight
to this channel, without a queue in the broker. Servers need nothing new:
the name travels in ``_reply_q`` and an oslo.messaging server publishes its
reply there as to any reply queue.

The broker names the address after the consuming channel and tells it only
by rewriting the ``reply_to`` property of a message published on that
channel, so ``_setup`` publishes such a probe to a private queue and reads it
back. The name changes with each connection: ``current()`` is the address
to put in a request now (None while reconnecting), which the RPC layer asks
for before every call.

What the option costs (see the README): replies sent while the caller's
connection is down are lost (the caller times out; a reply queue would keep
them), and RabbitMQ 3.x returns a *mandatory* reply to such an address as
unroutable even though it delivered it. aionova servers reply to these names
without the mandatory flag; an oslo.messaging server always sets it, takes
the return for a missing queue and publishes the reply again every 0.25 s
for ``kombu_missing_consumer_retry_timeout`` (the caller drops the copies),
then drops its replies to that address for a minute. Keep the default (a
reply queue) for callers of oslo.messaging servers.
"""

from __future__ import annotations

import asyncio
import logging

from aio_pika.abc import AbstractConnection
from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.errors import ConnectionLost, close_quietly, lost_if_closed, translated
from aionova.drivers.amqp.fastchannel import FastChannel, open_fast_channel
from aionova.drivers.amqp.listener import accept
from aionova.drivers.amqp.naming import DIRECT_REPLY_PREFIX, DIRECT_REPLY_QUEUE
from aionova.drivers.amqp.settings import AmqpSettings
from aionova.rpc.driver import ReplyHandler
from aionova.rpc.errors import TransportError
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

LOG = logging.getLogger(__name__)


async def probe_address(channel: FastChannel) -> str:
    """The ``amq.rabbitmq.reply-to.<key>`` name of ``channel``'s direct reply-to consumer."""
    declared = await channel.queue_declare("", exclusive=True, auto_delete=True)
    private = declared.queue or ""
    try:
        await channel.basic_publish(
            b"", routing_key=private, properties=Basic.Properties(reply_to=DIRECT_REPLY_QUEUE)
        )
        probe = await channel.basic_get(private, no_ack=True)  # the same channel: in order
    finally:
        await channel.queue_delete(private)
    name = probe.header.properties.reply_to or ""
    if not name.startswith(DIRECT_REPLY_PREFIX):
        raise TransportError(f"the broker did not name a direct reply-to address (got {name!r})")
    return name


class DirectReplies:
    """The driver's reply address on direct reply-to, consumed again after every reconnect."""

    def __init__(self, connector: Connector, settings: AmqpSettings, on_reply: ReplyHandler):
        self._connector = connector
        self._settings = settings
        self._on_reply = on_reply
        self._channel: FastChannel | None = None
        self._address: str | None = None
        self._closed = False

    async def start(self) -> None:
        """Consume and learn the address (raises the mapped error if that fails)."""
        with translated("consuming amq.rabbitmq.reply-to"):
            await self._connector.add_setup(self._setup)

    async def _setup(self, conn: AbstractConnection) -> None:
        if self._closed:
            return
        timeout = self._settings.connect_timeout
        self._address = None
        with lost_if_closed(conn):
            async with asyncio.timeout(timeout):
                channel = await open_fast_channel(conn)
        try:
            async with asyncio.timeout(timeout):
                await channel.consume(DIRECT_REPLY_QUEUE, self._deliver, no_ack=True)
                address = await probe_address(channel)
        except BaseException:
            await close_quietly(channel, timeout)
            raise
        self._channel, self._address = channel, address
        LOG.debug("AMQP: replies come to %s", address)

    def _deliver(self, message: DeliveredMessage) -> None:
        body = accept(message, self._settings)
        if body is not None:
            self._on_reply(body)

    def current(self) -> str | None:
        """The address while its channel is open, else None (reconnecting)."""
        channel = self._channel
        if channel is None or channel.is_closed:
            return None
        return self._address

    async def address(self) -> str:
        """The current address, waiting (as connecting does) for a reconnect to finish."""
        await self._connector.get()  # setups (this one included) have run when it returns
        address = self.current()
        if address is None:
            raise ConnectionLost("no direct reply-to consumer (the connection was lost)")
        return address

    async def close(self) -> None:
        self._closed = True
        self._connector.remove_setup(self._setup)
        channel, self._channel = self._channel, None
        if channel is not None:
            await close_quietly(channel, self._settings.connect_timeout)
