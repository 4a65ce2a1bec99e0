"""Publishing: fast (no confirm) or confirmed, with mandatory returns and ``retry`` semantics.

Two channels on the publish connection. Publisher confirms cost the broker an
ack per message and the sender a frame to read and a wait, so only
at-least-once publishing asks for them (``confirm=True``: aio-pika's confirming
channel, which also carries the declarations). Everything else goes through a
``FastChannel``: ``publish_now()`` queues the frames and returns at once, as
the broker will have them in the order sent, or not at all if the connection
breaks first (at most once, what oslo.messaging promises for casts and calls).
A mandatory message the broker returns comes back to ``on_returned``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random

from aio_pika.abc import AbstractChannel, AbstractConnection
from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.errors import ConnectionLost, close_quietly, lost_if_closed
from aionova.drivers.amqp.fastchannel import FastChannel, Handler, open_fast_channel
from aionova.drivers.amqp.messages import properties
from aionova.drivers.amqp.naming import ExchangeSpec
from aionova.drivers.amqp.retrying import with_retries
from aionova.drivers.amqp.settings import AmqpSettings
from aionova.drivers.amqp.topology import Declarer
from aiormq.abc import DeliveredMessage
from aiormq.exceptions import DeliveryError, PublishError
from pamqp.commands import Basic

LOG = logging.getLogger(__name__)


def stamped(props: Basic.Properties) -> Basic.Properties:
    """A copy of ``props`` with a message id of its own.

    aiormq matches a returned mandatory message to its publish by message id,
    and writes a fresh id into the properties object it is given when it has
    none. A properties object shared by several publishes would carry the first
    one's id into all of them: returns would then settle the wrong publish. So
    every publish attempt gets its own copy and its own id.
    """
    fresh = copy.copy(props)
    fresh.message_id = f"{random.getrandbits(128):032x}"
    return fresh


def _default_properties(expiration: str | None) -> Basic.Properties:
    return properties(expiration)


def _raw(conn: AbstractConnection) -> object:
    """The aiormq connection under aio-pika's (None once closed)."""
    transport = conn.transport
    return None if transport is None else transport.connection


class Publisher:
    """A confirming channel and a fast one on the publish connection.

    Exchanges are declared (on the confirming channel) once per channel.
    ``on_returned`` receives what the broker returns of fast mandatory publishes.
    """

    def __init__(self, connector: Connector, settings: AmqpSettings) -> None:
        self._connector = connector
        self._settings = settings
        self._channel: AbstractChannel | None = None
        self._channel_conn: AbstractConnection | None = None
        self._fast: dict[bool, FastChannel] = {}  # by confirm mode, on _channel_conn
        self._declared: set[str] = set()
        self._lock = asyncio.Lock()
        self.on_returned: Handler | None = None

    def _ready(self, exchange: ExchangeSpec, confirm: bool) -> FastChannel | None:
        """The fast channel if open and ``exchange`` declared on its connection."""
        fast = self._fast.get(confirm)
        if fast is None or fast.is_closed:
            return None
        if exchange.name and exchange.name not in self._declared:
            return None
        return fast

    def publish_now(
        self,
        exchange: ExchangeSpec,
        routing_key: str,
        body: bytes,
        expiration: str | None = None,
        mandatory: bool = False,
    ) -> bool:
        """Queue an unconfirmed publish if nothing needs setting up first.

        Returns False when the fast channel is not open or ``exchange`` not yet
        declared on its connection: then ``publish(..., confirm=False)`` does the rest.
        """
        fast = self._ready(exchange, False)
        if fast is None:
            return False
        props = fast.properties(expiration, lambda: _default_properties(expiration))
        try:
            fast.publish(exchange.name, routing_key, body, props, mandatory)
        except ConnectionLost:  # closing under us: publish() waits for the next connection
            return False
        return True

    async def wait_backlog(self) -> None:
        """After a fast publish: wait while a burst fills the socket (bounded)."""
        fast = self._fast.get(False) or self._fast.get(True)
        waiter = None if fast is None else fast.outbox.backlog()
        if waiter is not None:
            try:
                async with asyncio.timeout(self._settings.connect_timeout):
                    await asyncio.shield(waiter)
            except TimeoutError:
                LOG.warning(
                    "AMQP: the broker has not read our frames for %.0fs",
                    self._settings.connect_timeout,
                )

    def _on_returned(self, message: DeliveredMessage) -> None:
        handler = self.on_returned
        if handler is None:
            LOG.warning("AMQP: broker returned a message to %r; dropped", message.routing_key)
            return
        handler(message)

    async def _get_fast(self, exchange: ExchangeSpec, confirm: bool) -> FastChannel:
        """The fast channel, on the connection ``exchange`` was declared on."""
        await self._get_channel(exchange)
        fast = self._ready(exchange, confirm)
        if fast is not None:
            return fast
        async with self._lock:
            conn = self._channel_conn
            assert conn is not None
            fast = self._fast.get(confirm)
            if fast is None or fast.is_closed or fast.connection is not _raw(conn):
                with lost_if_closed(conn):
                    async with asyncio.timeout(self._settings.connect_timeout):
                        fast = await open_fast_channel(conn, confirm=confirm)
                fast.on_returned = self._on_returned
                self._fast[confirm] = fast
        return fast

    def _usable(self, conn: AbstractConnection) -> AbstractChannel | None:
        channel = self._channel
        if channel is not None and self._channel_conn is conn and not channel.is_closed:
            return channel
        return None

    async def _open_channel(self, conn: AbstractConnection) -> AbstractChannel:
        with lost_if_closed(conn):
            channel = conn.channel(publisher_confirms=True, on_return_raises=True)
            async with asyncio.timeout(self._settings.connect_timeout):
                await channel.initialize()
        return channel

    async def _get_channel(self, exchange: ExchangeSpec) -> AbstractChannel:
        """The confirming channel, with ``exchange`` declared on it (once per channel)."""
        conn = await self._connector.get()
        channel = self._usable(conn)
        if channel is not None and (not exchange.name or exchange.name in self._declared):
            return channel
        async with self._lock:
            channel = self._usable(conn)
            if channel is None:
                channel = await self._open_channel(conn)
                self._channel, self._channel_conn = channel, conn
                self._declared = set()
            if exchange.name and exchange.name not in self._declared:
                declarer = Declarer(channel, lambda: self._open_channel(conn))
                try:
                    await declarer.exchange(exchange)
                finally:  # the durable fallback replaces the channel a 406 closed
                    self._channel = channel = declarer.channel
                self._declared.add(exchange.name)
        return channel

    async def _publish_once(
        self,
        exchange: ExchangeSpec,
        routing_key: str,
        body: bytes,
        props: Basic.Properties | None,
        mandatory: bool,
        confirm: bool,
    ) -> None:
        if not (confirm and mandatory):  # a fast channel; its returns go to on_returned
            fast = self._ready(exchange, confirm) or await self._get_fast(exchange, confirm)
            if props is None:
                marshalled = fast.properties(None, lambda: _default_properties(None))
            else:
                marshalled = props.marshal()
            confirmed = fast.publish(exchange.name, routing_key, body, marshalled, mandatory)
            if confirmed is None:
                await self.wait_backlog()
                return
            try:
                async with asyncio.timeout(self._settings.connect_timeout):
                    await confirmed
            except DeliveryError as exc:
                await self._retire_if_nacked(exc, fast)
                raise
            return
        # Mandatory and confirmed: aio-pika's channel matches a return to its publish.
        channel = await self._get_channel(exchange)
        underlay = await channel.get_underlay_channel()
        try:
            await underlay.basic_publish(
                body,
                exchange=exchange.name,
                routing_key=routing_key,
                properties=stamped(props or _default_properties(None)),
                mandatory=mandatory,
                timeout=self._settings.connect_timeout,
            )
        except DeliveryError as exc:
            await self._retire_if_nacked(exc, channel)
            raise

    async def _retire_if_nacked(
        self, exc: DeliveryError, channel: FastChannel | AbstractChannel
    ) -> None:
        """The broker refused a publish (``Basic.Nack``): the next attempt gets a new channel.

        A quorum queue whose leader was on a node that stopped can keep refusing what
        comes through a channel opened before the failover, while a new channel to the
        same node is served by the new leader. (A returned mandatory message is no nack:
        the channel is fine.)
        """
        if isinstance(exc, PublishError):
            return
        LOG.warning("AMQP: the broker refused a publish; opening a new channel for the next")
        if isinstance(channel, FastChannel):
            if self._fast.get(channel.publisher_confirms) is channel:
                del self._fast[channel.publisher_confirms]
        elif self._channel is channel:
            self._channel = None
        await close_quietly(channel, self._settings.connect_timeout)

    async def publish(
        self,
        exchange: ExchangeSpec,
        routing_key: str,
        body: bytes,
        props: Basic.Properties | None,
        *,
        mandatory: bool = False,
        retry: int | None = None,
        confirm: bool = True,
    ) -> None:
        """Publish; with ``confirm``, wait for the broker's confirm.

        ``props`` None: oslo.messaging's properties (JSON, UTF-8, persistent).
        Confirmed and mandatory: raises ``MessageUndeliverable`` when a mandatory message is
        returned (not retried). Unconfirmed: a returned message goes to
        ``on_returned``. Both raise ``MessageDeliveryFailure`` after ``retry``
        is spent.
        """
        await with_retries(
            self._connector,
            self._settings,
            f"publishing to {exchange.name!r}/{routing_key!r}",
            lambda: self._publish_once(exchange, routing_key, body, props, mandatory, confirm),
            retry,
        )

    async def close(self) -> None:
        """Write what is queued (bounded), then close the channels."""
        fast_channels, self._fast = list(self._fast.values()), {}
        for fast in fast_channels:
            if fast.is_closed:
                continue
            await fast.outbox.flush(self._settings.connect_timeout)
            await close_quietly(fast, self._settings.connect_timeout)
        channel, self._channel = self._channel, None
        if channel is not None:
            await close_quietly(channel, self._settings.connect_timeout)
