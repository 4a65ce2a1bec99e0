"""Frames of one loop turn written to the socket together.

aiormq queues every frame (a publish, an ack) for its writer task as a
``ChannelFrame`` of its own, and the writer hands each to the transport,
which sends it at once: one ``send()`` system call per message, a quarter
of the CPU a request/reply costs on each side. An ``Outbox`` puts one
``Cork`` in that queue instead and keeps adding frames to it until the
writer takes it: everything published or acknowledged before the writer
runs leaves in one ``write()``. Order is kept (frames join the queue's
tail, through the cork that is in it) and nothing waits for a later turn:
the cork is in the queue from its first frame on.

When the cork grows past ``HIGH_WATER`` it asks the writer to drain the
socket after writing it, and writers of large bursts wait for that
(``backlog()``), so memory stays bounded when the broker reads slowly.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from aionova.drivers.amqp.errors import ConnectionLost
from aiormq.abc import AbstractConnection, ChannelFrame

LOG = logging.getLogger(__name__)

HIGH_WATER = 1 << 20  # bytes in one cork before its writers wait for the socket


class Cork:
    """What aiormq's writer takes for a ``ChannelFrame``: frames joined when it reads them.

    The writer reads ``payload`` (then the cork is sealed: later frames go to a
    new cork), ``should_close`` and ``should_drain``, and calls ``drain()``
    once the socket has taken the bytes.
    """

    __slots__ = ("_parts", "drain_future", "sealed", "size")
    should_close = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0
        self.sealed = False
        self.drain_future: asyncio.Future[None] | None = None

    def add(self, data: bytes) -> None:
        self._parts.append(data)
        self.size += len(data)

    @property
    def payload(self) -> bytes:
        self.sealed = True
        parts, self._parts = self._parts, []
        return b"".join(parts)

    @property
    def should_drain(self) -> bool:
        return self.drain_future is not None and not self.drain_future.done()

    def drain(self) -> None:
        if self.drain_future is not None and not self.drain_future.done():
            self.drain_future.set_result(None)


class Outbox:
    """Joins the frames written to one aiormq connection until its writer takes them."""

    def __init__(self, connection: AbstractConnection) -> None:
        self._connection = connection
        self._queue: asyncio.Queue[object] = connection.write_queue
        self._cork: Cork | None = None
        self._late: asyncio.Task[None] | None = None  # a cork waiting for room in the queue

    def write(self, data: bytes) -> None:
        """Queue whole frames; raises ``ConnectionLost`` once the connection is closed."""
        if self._connection.is_closed:
            raise ConnectionLost("the AMQP connection is closed")
        cork = self._cork
        if cork is not None and not cork.sealed:
            cork.add(data)
            if cork.size > HIGH_WATER and cork.drain_future is None:
                cork.drain_future = asyncio.get_running_loop().create_future()
            return
        cork = self._cork = Cork()
        cork.add(data)
        try:
            self._queue.put_nowait(cork)
        except asyncio.QueueFull:  # aiormq's writer is behind: the cork waits, still open
            self._late = asyncio.get_running_loop().create_task(
                self._put_later(cork), name="amqp-outbox"
            )

    async def _put_later(self, cork: Cork) -> None:
        putting = asyncio.ensure_future(self._queue.put(cork))
        closing = self._connection.closing  # aiormq: an observer of its own, cancelled below
        try:  # until there is room, or the connection closes (then nobody writes it)
            await asyncio.wait((putting, closing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            putting.cancel()
            closing.cancel()

    def backlog(self) -> asyncio.Future[None] | None:
        """A future to wait for when the open cork is over ``HIGH_WATER``, else None."""
        cork = self._cork
        if cork is None or cork.drain_future is None or cork.drain_future.done():
            return None
        return cork.drain_future

    async def flush(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until the frames written so far are on the socket."""
        if self._connection.is_closed:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        marker = ChannelFrame(payload=b"", should_close=False, drain_future=done)
        try:
            async with asyncio.timeout(timeout):
                await self._queue.put(marker)
                await asyncio.shield(done)
        except TimeoutError:
            LOG.warning("AMQP: frames not written within %.1fs of closing", timeout)


_OUTBOXES: weakref.WeakKeyDictionary[AbstractConnection, Outbox] = weakref.WeakKeyDictionary()


def outbox_for(connection: AbstractConnection) -> Outbox:
    """The connection's one outbox (every fast channel on it shares it, to keep order)."""
    outbox = _OUTBOXES.get(connection)
    if outbox is None:
        outbox = _OUTBOXES[connection] = Outbox(connection)
    return outbox
