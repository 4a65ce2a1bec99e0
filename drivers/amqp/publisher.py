"""Publishing with publisher confirms, mandatory returns and ``retry`` semantics."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random

from aio_pika.abc import AbstractChannel, AbstractConnection
from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.errors import LIBRARY_ERRORS, lost_if_closed
from aionova.drivers.amqp.naming import ExchangeSpec
from aionova.drivers.amqp.retrying import with_retries
from aionova.drivers.amqp.settings import AmqpSettings
from aionova.drivers.amqp.topology import Declarer
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


class Publisher:
    """One confirming channel on the publish connection; exchanges declared once per channel."""

    def __init__(self, connector: Connector, settings: AmqpSettings) -> None:
        self._connector = connector
        self._settings = settings
        self._channel: AbstractChannel | None = None
        self._channel_conn: AbstractConnection | None = None
        self._declared: set[str] = set()
        self._lock = asyncio.Lock()

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
        props: Basic.Properties,
        mandatory: bool,
    ) -> None:
        channel = await self._get_channel(exchange)
        underlay = await channel.get_underlay_channel()
        await underlay.basic_publish(
            body,
            exchange=exchange.name,
            routing_key=routing_key,
            properties=stamped(props),
            mandatory=mandatory,
            timeout=self._settings.connect_timeout,
        )

    async def publish(
        self,
        exchange: ExchangeSpec,
        routing_key: str,
        body: bytes,
        props: Basic.Properties,
        *,
        mandatory: bool = False,
        retry: int | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm.

        Raises ``MessageUndeliverable`` when a mandatory message is returned
        (not retried) and ``MessageDeliveryFailure`` after ``retry`` is spent.
        """
        await with_retries(
            self._connector,
            self._settings,
            f"publishing to {exchange.name!r}/{routing_key!r}",
            lambda: self._publish_once(exchange, routing_key, body, props, mandatory),
            retry,
        )

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(*LIBRARY_ERRORS):
                async with asyncio.timeout(self._settings.connect_timeout):
                    await channel.close()
