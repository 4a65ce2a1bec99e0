"""The caller's side of calls: one reply address per transport, replies → futures.

Each call registers a waiter under its ``_msg_id``. A reply with ``ending``
true settles it (with the last non-null result seen, or the failure); a reply
with no result, no failure and ``ending`` false is a heartbeat that restarts
the call-monitor deadline. Every waiter has bounded deadlines: a call ends with
its result or ``MessagingTimeout``, never hangs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from aionova.rpc import _envelope as envelope
from aionova.rpc import _failures as failures
from aionova.rpc.driver import Driver
from aionova.rpc.errors import MalformedMessage, MessagingTimeout

LOG = logging.getLogger(__name__)


SWEEP_INTERVAL = 0.02


class Waiter:
    """One outstanding call and its deadlines (loop clock; None: no deadline)."""

    __slots__ = ("expires", "future", "last_result", "monitor", "monitor_expires", "msg_id")

    def __init__(self, msg_id: str, future: asyncio.Future[Any], monitor: float | None) -> None:
        self.msg_id = msg_id
        self.future = future
        self.last_result: Any = None
        self.monitor = monitor
        self.expires: float | None = None
        self.monitor_expires: float | None = None


class ReplyWaiters:
    """Correlates reply bodies with outstanding calls.

    Deadlines are checked by one sweep every 20 ms while calls are outstanding,
    not by a loop timer per call: most calls end long before their deadline, and
    a timer per call costs a heap insertion and a cancellation each. A call
    times out at most one sweep late, never early.
    """

    def __init__(self, driver: Driver, allowed_remote_exmods: Iterable[str]) -> None:
        self._driver = driver
        self._allowed = frozenset(allowed_remote_exmods)
        self._waiters: dict[str, Waiter] = {}
        self._address: str | None = None
        # A driver whose reply address can change (direct reply-to) says which is current.
        self._current: Callable[[], str | None] | None = None
        self._lock = asyncio.Lock()
        self._sweeper: asyncio.TimerHandle | None = None
        self.received = 0
        """Reply bodies received (Transport.statistics)."""

    @property
    def known_address(self) -> str | None:
        """The reply address if set up and current (saves an await per call).

        None before the first call, and while a driver with a changing address
        (``current_reply_address``) has none: ``address()`` then waits for it.
        """
        current = self._current
        return self._address if current is None else current()

    async def address(self) -> str:
        """The reply address, created on first use."""
        known = self.known_address
        if known is not None:
            return known
        async with self._lock:
            address = await self._driver.reply_address(self.on_reply)
            self._address = address
            self._current = getattr(self._driver, "current_reply_address", None)
        return address

    def register(self, msg_id: str, timeout: float | None, monitor: float | None) -> Waiter:
        """Expect a reply to ``msg_id``: MessagingTimeout after ``timeout`` seconds,
        or after ``monitor`` seconds without a heartbeat."""
        loop = asyncio.get_running_loop()
        waiter = Waiter(msg_id, loop.create_future(), monitor)
        if timeout is not None or monitor:
            now = loop.time()
            if timeout is not None:
                waiter.expires = now + timeout
            if monitor:
                waiter.monitor_expires = now + monitor
            if self._sweeper is None:
                self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep)
        self._waiters[msg_id] = waiter
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        self._waiters.pop(waiter.msg_id, None)
        if not waiter.future.done():
            waiter.future.cancel()

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for waiter in self._waiters.values():
            if waiter.future.done():
                continue
            if waiter.expires is not None and now >= waiter.expires:
                waiter.future.set_exception(
                    MessagingTimeout(f"Timed out waiting for a reply to message ID {waiter.msg_id}")
                )
            elif waiter.monitor_expires is not None and now >= waiter.monitor_expires:
                waiter.future.set_exception(
                    MessagingTimeout(
                        f"Timed out waiting for a reply to message ID {waiter.msg_id}: "
                        "no heartbeat within call_monitor_timeout"
                    )
                )
        self._sweeper = loop.call_later(SWEEP_INTERVAL, self._sweep) if self._waiters else None

    def on_reply(self, body: bytes) -> None:
        """Driver callback: route one reply body to its waiter."""
        self.received += 1
        try:
            reply = envelope.decode_reply(body)
        except MalformedMessage as exc:
            LOG.error("dropping a malformed reply: %s", exc)
            return
        waiter = self._waiters.get(reply.msg_id) if reply.msg_id else None
        if waiter is None or waiter.future.done():
            LOG.info("no caller waiting for reply to message ID %s; dropped", reply.msg_id)
            return
        if reply.failure:
            waiter.future.set_exception(failures.deserialize(reply.failure, self._allowed))
            return
        if reply.result is not None:
            waiter.last_result = reply.result
        if reply.ending:
            waiter.future.set_result(waiter.last_result)
        elif reply.result is None and waiter.monitor:
            waiter.monitor_expires = asyncio.get_running_loop().time() + waiter.monitor

    def close(self, exc: Exception) -> None:
        """End every outstanding call with ``exc`` and drop the timers."""
        for waiter in list(self._waiters.values()):
            if not waiter.future.done():
                waiter.future.set_exception(exc)
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
