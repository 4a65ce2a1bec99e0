"""A bounded queue of notifications sent in order by one task it owns.

``put()`` never waits: a full queue drops the notification (a warning on the
first drop and every hundredth after) so an operation is never held up by a
broker that is slow or down; the task sends one notification at a time
through its ``Notifier``, which logs and swallows what it cannot send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec

from aionova import rpc

LOG = logging.getLogger(__name__)


class Pending(msgspec.Struct, frozen=True):
    """One notification, payload built, waiting for its turn."""

    notifier: rpc.Notifier
    ctxt: dict[str, Any]
    priority: str  # the Notifier method: info, error …
    event_type: str
    payload: Any


class SendQueue:
    """Holds up to ``size`` notifications; ``stop()`` sends what is left within a bound."""

    def __init__(self, size: int, name: str = "notifications") -> None:
        self._queue: asyncio.Queue[Pending] = asyncio.Queue(maxsize=size)
        self._name = name
        self._worker: asyncio.Task[None] | None = None
        self.closed = False
        self.sent = 0
        self.dropped = 0
        self.accepted = 0  # put() calls that queued (the sequence number of the last one)
        self.handled = 0  # of those, how many the sender is done with (sent or not)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def __len__(self) -> int:
        return self._queue.qsize()

    def put(self, pending: Pending) -> bool:
        """Queue ``pending`` (starting the sender if needed); False if it was dropped."""
        if self.closed:
            LOG.warning("%s stopped; %s not sent", self._name, pending.event_type)
            return False
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                LOG.warning(
                    "%s: queue full (%d); %s dropped (%d so far)",
                    self._name,
                    self._queue.maxsize,
                    pending.event_type,
                    self.dropped,
                )
            return False
        self.accepted += 1
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._send_forever(), name=self._name
            )
        return True

    async def _send_forever(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                # The Notifier logs and swallows sending errors; only cancellation escapes.
                await getattr(pending.notifier, pending.priority)(
                    pending.ctxt, pending.event_type, pending.payload
                )
                self.sent += 1
            finally:
                self._queue.task_done()
                self.handled += 1
                self._wake()

    def _wake(self) -> None:
        ready = [w for w in self._waiters if w[0] <= self.handled]
        for waiter in ready:
            self._waiters.remove(waiter)
            if not waiter[1].done():
                waiter[1].set_result(None)

    async def wait_handled(self, mark: int, timeout: float) -> None:
        """Wait until the first ``mark`` notifications queued are handled (TimeoutError)."""
        if self.handled >= mark:
            return
        waiter = (mark, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter[1]
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def join(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far was handed to the transport."""
        async with asyncio.timeout(timeout):
            await self._queue.join()

    async def stop(self, timeout: float = 5.0) -> None:
        """Refuse new notifications, send the queued ones within ``timeout``, end the task."""
        self.closed = True
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            await self.join(timeout)
        except TimeoutError:
            LOG.warning("%s: %d notification(s) not sent at stop", self._name, len(self))
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
