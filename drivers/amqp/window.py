"""Flow control for a listener: at most ``size`` deliveries handed over and not done.

The broker's prefetch limit counts unacknowledged messages only. In
at-most-once mode a request is acknowledged when a worker takes it, so the
prefetch alone would let running work pile up without limit; the window
bounds it on this side. Messages beyond the window wait here, unacknowledged
(at most the prefetch count per queue), so a crash hands them back to the
broker, and are handed over in order as deliveries are done.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from aionova.drivers.amqp.errors import LIBRARY_ERRORS
from aionova.drivers.amqp.fastchannel import FastChannel
from aionova.rpc.driver import MessageHandler
from aiormq.abc import DeliveredMessage

LOG = logging.getLogger(__name__)


def settle(message: DeliveredMessage, ack: bool, requeue: bool = False) -> None:
    """Ack or reject one message (queued at once); a failure is logged (the broker redelivers)."""
    tag = message.delivery_tag
    if tag is None:
        return
    channel = fast_channel(message)
    try:
        if ack:
            channel.ack(tag)
        else:
            channel.reject(tag, requeue)
    except LIBRARY_ERRORS as exc:
        LOG.warning("AMQP ack/reject failed: %s", exc)


def fast_channel(message: DeliveredMessage) -> FastChannel:
    """The channel a listener's delivery came on (listeners consume on fast channels)."""
    channel = message.channel
    assert isinstance(channel, FastChannel), channel
    return channel


class HandOverAcks:
    """Acknowledges handed-over deliveries together: one ``multiple`` ack per loop turn.

    Deliveries are handed over in the order they arrived, and those still
    waiting come after them, so one ack of the highest tag handed over (with
    ``multiple``) covers exactly the deliveries handed over since the last one.
    The ack is queued by a callback on the next loop turn: before a handler
    gets past its first await. ``close()`` sends what is left, before the
    channel goes (else the broker would deliver again what a worker has taken).
    """

    def __init__(self) -> None:
        self._channel: FastChannel | None = None
        self._upto = 0  # highest tag handed over on that channel
        self._acked = 0  # highest tag acknowledged on it
        self._pending: asyncio.Handle | None = None

    def add(self, message: DeliveredMessage) -> None:
        tag = message.delivery_tag
        if tag is None:
            return
        if message.channel is not self._channel:  # a new channel after a reconnect
            self._channel, self._upto, self._acked = fast_channel(message), 0, 0
        self._upto = max(self._upto, tag)
        if self._pending is None:
            self._pending = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._pending = None
        channel, upto = self._channel, self._upto
        if channel is None or upto <= self._acked:
            return
        self._acked = upto
        try:
            channel.ack(upto, multiple=True)
        except LIBRARY_ERRORS as exc:  # the channel is gone: the broker has them again
            LOG.warning("AMQP ack of deliveries up to %d failed: %s", upto, exc)

    async def close(self) -> None:
        """Send what is due."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        self.flush()


class Window:
    """Hands deliveries to ``on_message`` while fewer than ``size`` are not done.

    ``ack_on_hand_over``: at-most-once, a message is acknowledged as a worker
    gets it (``HandOverAcks``); otherwise (at-least-once) when it is done.
    """

    def __init__(self, size: int, on_message: MessageHandler, *, ack_on_hand_over: bool) -> None:
        if size < 1:
            raise ValueError("a window holds at least one delivery")
        self.size = size
        self.outstanding = 0  # handed over, not done
        self._on_message = on_message
        self._acks = HandOverAcks() if ack_on_hand_over else None
        self._waiting: collections.deque[tuple[bytes, DeliveredMessage]] = collections.deque()
        self._open = True

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def offer(self, body: bytes, message: DeliveredMessage) -> None:
        """A message arrived: hand it over now if there is room, else keep it waiting."""
        self._waiting.append((body, message))
        self._fill()

    def release(self) -> None:
        """A delivery was done: there is room for the next waiting one."""
        self.outstanding -= 1
        self._fill()

    def _fill(self) -> None:
        waiting, acks = self._waiting, self._acks
        while self._open and waiting and self.outstanding < self.size:
            body, message = waiting.popleft()
            if message.channel.is_closed:  # the broker delivers it again, maybe here
                continue
            self.outstanding += 1
            if acks is not None:
                acks.add(message)
            self._on_message(WindowedDelivery(body, message, self))

    def take_waiting(self) -> list[DeliveredMessage]:
        """Empty the waiting line (to give those messages back to the broker)."""
        waiting = [message for _, message in self._waiting]
        self._waiting.clear()
        return waiting

    async def close(self) -> list[DeliveredMessage]:
        """Hand nothing more over, send the acks due; returns the messages still waiting."""
        self._open = False
        if self._acks is not None:
            await self._acks.close()
        return self.take_waiting()

    def done(self, message: DeliveredMessage) -> None:
        """``WindowedDelivery.done``: make room; at-least-once, acknowledge ``message``."""
        self.release()
        if self._acks is None:
            settle(message, ack=True)


class WindowedDelivery:
    """One request inside a window; ``done()`` makes room (and acks, at-least-once)."""

    __slots__ = ("_message", "_window", "body")

    def __init__(self, body: bytes, message: DeliveredMessage, window: Window) -> None:
        self.body = body
        self._message = message
        self._window: Window | None = window

    def done(self) -> None:
        window, self._window = self._window, None
        if window is not None:
            window.done(self._message)
