"""An aiormq channel for the hot path: no task per delivery, publishes as cached bytes.

aio-pika stays the connection manager: it opens and supervises the
connection, and the declarations go through its channels. Requests, replies
and acks ride on a ``FastChannel``, an ``aiormq.Channel`` opened on that same
connection, which differs from its base in three ways:

* a delivery is read in the channel's reader task and handed to a plain
  callback (``consume()``), where aiormq starts a task per message for an
  async consumer; the callback must not block (it hands the work on);
* a message the broker returns (mandatory, unroutable) goes to
  ``on_returned``, also without publisher confirms (aiormq matches returns
  to confirmations only);
* ``publish()``, ``ack()`` and ``reject()`` write marshalled frames through
  the connection's ``Outbox`` and return at once: no lock, no await. On a
  channel opened with ``confirm=True`` ``publish()`` returns a future the
  broker's ``Basic.Ack`` settles (a ``Basic.Nack`` or the channel closing
  fails it): publisher confirms without aiormq's per-publish bookkeeping
  (message ids, a lock and a timeout scope per message). Mandatory publishes
  that must fail with the broker's return stay on aio-pika's confirming
  channel (``publisher.py``), which matches returns to publishes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

import aiormq
from aio_pika.abc import AbstractConnection as PikaConnection
from aionova.drivers.amqp import frames
from aionova.drivers.amqp.errors import ConnectionLost
from aionova.drivers.amqp.outbox import Outbox, outbox_for
from aiormq.abc import DeliveredMessage
from aiormq.exceptions import DeliveryError
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

LOG = logging.getLogger(__name__)

Handler = Callable[[DeliveredMessage], None]
_MAX_CHANNEL = 65535


class FastChannel(aiormq.Channel):
    """See the module docstring; open one with ``open_fast_channel``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handlers: dict[str, Handler] = {}
        self.on_returned: Handler | None = None
        self.outbox: Outbox = outbox_for(self.connection)
        self._frames = frames.PublishFrames(self.number, self.connection.connection_tune.frame_max)
        self._published = 0  # publishes so far: the broker's delivery tags in confirm mode
        self._unconfirmed: dict[int, asyncio.Future[None]] = {}  # by tag, in publish order

    # -- out -----------------------------------------------------------------

    def _check(self) -> None:
        if self.is_closed:
            raise ConnectionLost(f"AMQP channel {self.number} is closed")

    def properties(self, key: object, make: Callable[[], spec.Basic.Properties]) -> bytes:
        """Marshalled properties, cached under ``key`` (``make`` builds them once)."""
        return self._frames.properties(key, make)

    def publish(
        self, exchange: str, routing_key: str, body: bytes, properties: bytes, mandatory: bool
    ) -> asyncio.Future[None] | None:
        """Queue one publish (``properties`` from ``properties()``).

        In confirm mode returns the future of the broker's confirm, else None.
        """
        self._check()
        self.outbox.write(self._frames.publish(exchange, routing_key, mandatory, properties, body))
        if not self.publisher_confirms:
            return None
        self._published += 1
        confirmed: asyncio.Future[None] = self.create_future()  # failed if the channel closes
        self._unconfirmed[self._published] = confirmed
        return confirmed

    async def _on_confirm_frame(
        self, frame: spec.Basic.Ack | spec.Basic.Nack | spec.Basic.Reject
    ) -> None:
        tag, pending = frame.delivery_tag or 0, self._unconfirmed
        if getattr(frame, "multiple", False):
            settled = []
            for key in pending:  # in publish order: stop past the tag
                if key > tag:
                    break
                settled.append(key)
        else:
            settled = [tag] if tag in pending else []
        for key in settled:
            confirmed = pending.pop(key)
            if confirmed.done():
                continue
            if isinstance(frame, spec.Basic.Ack):
                confirmed.set_result(None)
            else:
                confirmed.set_exception(DeliveryError(None, frame))

    def ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self._check()
        self.outbox.write(frames.ack(self.number, delivery_tag, multiple))

    def reject(self, delivery_tag: int, requeue: bool) -> None:
        self._check()
        self.outbox.write(frames.reject(self.number, delivery_tag, requeue))

    # -- in ------------------------------------------------------------------

    async def consume(self, queue: str, handler: Handler, *, no_ack: bool) -> str:
        """Consume ``queue``; every delivery is passed to ``handler`` in the reader task."""
        tag = f"ctag{self.number}.{uuid.uuid4().hex}"
        self._handlers[tag] = handler
        try:
            await self.basic_consume(queue, _never_called, no_ack=no_ack, consumer_tag=tag)
        except BaseException:
            self._handlers.pop(tag, None)
            raise
        return tag

    async def _read_message(
        self, frame: spec.Basic.Deliver | spec.Basic.Return
    ) -> DeliveredMessage:
        header = await self._get_frame()
        if not isinstance(header, ContentHeader):
            raise ValueError(f"unexpected frame {header!r} instead of a content header")
        size, parts, got = header.body_size, [], 0
        while got < size:
            content = await self._get_frame()
            if not isinstance(content, ContentBody):
                raise ValueError(f"unexpected frame {content!r} instead of a content body")
            parts.append(content.value)
            got += len(content.value)
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        return DeliveredMessage(delivery=frame, header=header, body=body, channel=self)

    async def _on_deliver_frame(self, frame: spec.Basic.Deliver) -> None:
        message = await self._read_message(frame)
        handler = self._handlers.get(frame.consumer_tag or "")
        if handler is None:  # cancelled meanwhile: unacked, the broker delivers it again
            return
        try:
            handler(message)
        except Exception:  # the reader must go on: the handler's bug is logged
            LOG.exception("AMQP: delivery handler failed on channel %d", self.number)

    async def _on_return_frame(self, frame: spec.Basic.Return) -> None:
        message = await self._read_message(frame)
        if self.on_returned is None:
            LOG.warning(
                "AMQP: broker returned a message to %r (%s); dropped",
                frame.routing_key,
                frame.reply_text,
            )
            return
        try:
            self.on_returned(message)
        except Exception:
            LOG.exception("AMQP: return handler failed on channel %d", self.number)


async def _never_called(message: DeliveredMessage) -> None:  # pragma: no cover
    raise AssertionError("FastChannel hands deliveries to its own handlers")


async def open_fast_channel(connection: PikaConnection, *, confirm: bool = False) -> FastChannel:
    """A ``FastChannel`` on aio-pika's connection (numbered as aiormq numbers its own).

    ``confirm``: in publisher-confirm mode (``publish()`` returns futures).
    """
    transport = connection.transport
    if transport is None:
        raise ConnectionLost("the AMQP connection is not open")
    raw = transport.connection
    if not isinstance(raw, aiormq.Connection):  # aio-pika always builds aiormq's
        raise TypeError(f"not an aiormq connection: {raw!r}")
    if raw.is_closed:
        raise ConnectionLost("the AMQP connection is closed")
    async with raw.last_channel_lock:
        if raw.channels:
            raw.last_channel = max(raw.channels)
        while raw.last_channel in raw.channels:
            raw.last_channel += 1
            if raw.last_channel > _MAX_CHANNEL:
                raw.last_channel = 1
        number = raw.last_channel
        channel = FastChannel(raw, number, publisher_confirms=confirm, frame_buffer=10)
        raw.channels[number] = channel
    await channel.open()
    return channel
