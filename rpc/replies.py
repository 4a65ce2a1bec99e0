"""The caller's side of calls: one reply address per transport, replies → futures.

Each call registers a waiter under its ``_msg_id``. A reply with ``ending``
true settles it (with the last non-null result seen, or the failure); a reply
with no result, no failure and ``ending`` false is a heartbeat that restarts
the call-monitor timer. Every waiter has bounded timers: a call ends with its
result or ``MessagingTimeout``, never hangs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from rpc import envelope, failures
from rpc.deadlines import Deadline, Deadlines
from rpc.driver import Driver
from rpc.errors import MalformedMessage, MessagingTimeout

LOG = logging.getLogger(__name__)


class Waiter:
    """One outstanding call."""

    __slots__ = ("deadline", "future", "last_result", "monitor", "monitor_deadline", "msg_id")

    def __init__(self, msg_id: str, future: asyncio.Future[Any], monitor: float | None) -> None:
        self.msg_id = msg_id
        self.future = future
        self.last_result: Any = None
        self.monitor = monitor
        self.deadline: Deadline | None = None
        self.monitor_deadline: Deadline | None = None


class ReplyWaiters:
    """Correlates reply bodies with outstanding calls."""

    def __init__(self, driver: Driver, allowed_remote_exmods: Iterable[str]) -> None:
        self._driver = driver
        self._allowed = frozenset(allowed_remote_exmods)
        self._waiters: dict[str, Waiter] = {}
        self._address: str | None = None
        self._lock = asyncio.Lock()
        self._deadlines = Deadlines()

    @property
    def known_address(self) -> str | None:
        """The reply queue name if already created (saves an await per call)."""
        return self._address

    async def address(self) -> str:
        """The reply queue name, created on first use."""
        if self._address is None:
            async with self._lock:
                if self._address is None:
                    self._address = await self._driver.reply_address(self.on_reply)
        return self._address

    def register(self, msg_id: str, timeout: float | None, monitor: float | None) -> Waiter:
        """Expect a reply to ``msg_id``: MessagingTimeout after ``timeout`` seconds,
        or after ``monitor`` seconds without a heartbeat."""
        waiter = Waiter(msg_id, asyncio.get_running_loop().create_future(), monitor)
        if timeout is not None:
            waiter.deadline = self._deadlines.add(timeout, self._expire, waiter)
        if monitor:
            waiter.monitor_deadline = self._deadlines.add(monitor, self._expire_monitor, waiter)
        self._waiters[msg_id] = waiter
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        self._waiters.pop(waiter.msg_id, None)
        if waiter.deadline is not None:
            self._deadlines.cancel(waiter.deadline)
        if waiter.monitor_deadline is not None:
            self._deadlines.cancel(waiter.monitor_deadline)
        if not waiter.future.done():
            waiter.future.cancel()

    def _expire(self, waiter: Waiter) -> None:
        if not waiter.future.done():
            waiter.future.set_exception(
                MessagingTimeout(f"Timed out waiting for a reply to message ID {waiter.msg_id}")
            )

    def _expire_monitor(self, waiter: Waiter) -> None:
        if not waiter.future.done():
            waiter.future.set_exception(
                MessagingTimeout(
                    f"Timed out waiting for a reply to message ID {waiter.msg_id}: "
                    "no heartbeat within call_monitor_timeout"
                )
            )

    def on_reply(self, body: bytes) -> None:
        """Driver callback: route one reply body to its waiter."""
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
            if waiter.monitor_deadline is not None:
                self._deadlines.cancel(waiter.monitor_deadline)
            waiter.monitor_deadline = self._deadlines.add(
                waiter.monitor, self._expire_monitor, waiter
            )

    def close(self, exc: Exception) -> None:
        """End every outstanding call with ``exc`` and drop the timers."""
        for waiter in list(self._waiters.values()):
            if not waiter.future.done():
                waiter.future.set_exception(exc)
        self._deadlines.close()
