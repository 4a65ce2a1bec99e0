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
from collections.abc import Awaitable

from aionova.drivers.amqp.errors import LIBRARY_ERRORS
from aionova.rpc.driver import MessageHandler
from aiormq.abc import AbstractChannel, DeliveredMessage

LOG = logging.getLogger(__name__)


async def settle(message: DeliveredMessage, ack: bool, requeue: bool = False) -> None:
    """Ack or reject one message; a failure is logged (the broker redelivers it)."""
    tag = message.delivery_tag
    if tag is None:
        return
    try:
        if ack:
            await message.channel.basic_ack(tag, wait=False)
        else:
            await message.channel.basic_reject(tag, requeue=requeue)
    except LIBRARY_ERRORS as exc:
        LOG.warning("AMQP ack/reject failed: %s", exc)


class HandOverAcks:
    """Acknowledges handed-over deliveries together: one ``multiple`` ack per batch.

    Deliveries are handed over in the order they arrived, and those still
    waiting come after them, so one ack of the highest tag handed over (with
    ``multiple``) covers exactly the deliveries handed over since the last one.
    The ack goes out from a task of its own as soon as the loop has run what
    is ready: before a handler gets past its first await. ``close()`` sends
    what is left, before the channel goes (else the broker would deliver
    again what a worker has taken).
    """

    def __init__(self) -> None:
        self._channel: AbstractChannel | None = None
        self._upto = 0  # highest tag handed over on that channel
        self._acked = 0  # highest tag acknowledged on it
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, message: DeliveredMessage) -> None:
        tag = message.delivery_tag
        if tag is None:
            return
        if message.channel is not self._channel:  # a new channel after a reconnect
            self._channel, self._upto, self._acked = message.channel, 0, 0
        self._upto = max(self._upto, tag)
        self._due.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="amqp-acks")

    async def _run(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            await self.flush()

    async def flush(self) -> None:
        channel, upto = self._channel, self._upto
        if channel is None or upto <= self._acked:
            return
        self._acked = upto
        try:
            await channel.basic_ack(upto, multiple=True, wait=False)
        except LIBRARY_ERRORS as exc:  # the channel is gone: the broker has them again
            LOG.warning("AMQP ack of deliveries up to %d failed: %s", upto, exc)

    async def close(self) -> None:
        """Send what is due and stop the task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.flush()


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

    def done(self, message: DeliveredMessage) -> Awaitable[None] | None:
        """``WindowedDelivery.done``: make room; at-least-once, acknowledge ``message``."""
        self.release()
        return settle(message, ack=True) if self._acks is None else None


class WindowedDelivery:
    """One request inside a window; ``done()`` makes room (and acks, at-least-once)."""

    __slots__ = ("_message", "_window", "body")

    def __init__(self, body: bytes, message: DeliveredMessage, window: Window) -> None:
        self.body = body
        self._message = message
        self._window: Window | None = window

    def done(self) -> Awaitable[None] | None:
        window, self._window = self._window, None
        return None if window is None else window.done(self._message)
