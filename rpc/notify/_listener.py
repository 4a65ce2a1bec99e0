"""Notification listeners: consume ``<topic>.<priority>`` queues and dispatch to endpoints.

Lifecycle as ``RPCServer`` (and oslo.messaging's listener): ``start()``
subscribes, ``stop()`` stops consuming and returns, ``wait()`` returns when
everything received has been processed and settled, then releases the
subscription; ``abort()`` cancels instead of draining. Each message is
acknowledged after its endpoints ran, or requeued when one answered
``REQUEUE`` (or raised) and the listener was built with ``allow_requeue``. A
malformed message is logged and acknowledged, and the listener goes on.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any

from aionova.rpc._serializer import Serializer
from aionova.rpc._target import Target
from aionova.rpc._transport import Transport
from aionova.rpc.driver import Listener, NotificationDriver, RequeueableDelivery
from aionova.rpc.errors import DriverLoadFailure, InvalidTarget, MalformedMessage
from aionova.rpc.notify import _wire as wire
from aionova.rpc.notify._dispatcher import NotificationDispatcher, NotificationResult

LOG = logging.getLogger(__name__)

DEFAULT_MAX_CONCURRENCY = 64


def _check_targets(targets: Sequence[Target]) -> tuple[Target, ...]:
    if not targets:
        raise InvalidTarget("a notification listener needs at least one target")
    for target in targets:
        if not isinstance(target, Target) or not target.topic:
            raise InvalidTarget("a notification target needs a topic", target)
    return tuple(targets)


class ListenerBase(ABC):
    """Subscription, lifecycle and settling, shared by the plain and batch listeners."""

    def __init__(
        self,
        transport: Transport,
        targets: Sequence[Target],
        dispatcher: NotificationDispatcher,
        *,
        allow_requeue: bool,
        pool: str | None,
        transient_pool: bool,
    ) -> None:
        self.transport = transport
        self.targets = _check_targets(targets)
        self.dispatcher = dispatcher
        if not dispatcher.supported_priorities:
            raise ValueError(
                "no endpoint has a method for any priority "
                f"({', '.join(wire.PRIORITIES)}): the listener would receive nothing"
            )
        if transient_pool and not pool:
            raise ValueError("transient_pool needs a pool name")
        self.allow_requeue = allow_requeue
        self.pool = pool
        self.transient_pool = transient_pool
        self._listener: Listener | None = None
        self._released: list[Listener] = []  # stopped subscriptions still settling
        self._running = False
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        topics = ",".join(t.topic or "" for t in self.targets)
        return f"<{type(self).__name__} {topics} pool={self.pool}>"

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        """Subscribe to ``<topic>.<priority>`` for every target and supported priority."""
        async with self._lock:
            if self._running:
                LOG.warning("%r: start() called while running; ignored", self)
                return
            driver = self.transport._driver
            if not isinstance(driver, NotificationDriver):
                raise DriverLoadFailure(f"{type(driver).__name__} cannot carry notifications")
            pairs = [(t, p) for t in self.targets for p in self.dispatcher.supported_priorities]
            if self._listener is not None:  # started again before wait(): close it then
                self._released.append(self._listener)
                self._listener = None
            self._stopped.clear()
            self._listener = await driver.listen_for_notifications(
                pairs, self.pool, self._on_message, transient=self.transient_pool
            )
            self._running = True

    async def stop(self) -> None:
        """Stop consuming; what was received keeps being processed. Idempotent."""
        async with self._lock:
            if not self._running:
                return
            self._running = False
            if self._listener is not None:
                await self._listener.stop()
            self._stopped.set()

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for stop(), then for everything received to be processed and settled."""
        async with asyncio.timeout(timeout):
            if self._running:
                await self._stopped.wait()
            await self._drain()
            await self._release()

    async def abort(self) -> None:
        """Stop, requeue what waits, cancel what runs (its messages are redelivered)."""
        await self.stop()
        await self._requeue_waiting()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        await self._release()

    async def _release(self) -> None:
        listeners, self._released = self._released, []
        if not self._running and self._listener is not None:  # (a restart keeps the live one)
            listeners.append(self._listener)
            self._listener = None
        for listener in listeners:
            await listener.close()

    async def __aenter__(self) -> ListenerBase:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        await self.wait()

    # -- what the two kinds provide -----------------------------------------

    @abstractmethod
    def _on_message(self, delivery: RequeueableDelivery) -> None:
        """Take one delivery (called by the driver; hands the work off at once)."""

    @abstractmethod
    async def _drain(self) -> None:
        """Process and settle everything received."""

    @abstractmethod
    async def _requeue_waiting(self) -> None:
        """Requeue what was received but not started (abort)."""

    # -- shared -------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)  # also when cancelled before it ran
        return task

    def _decode(self, delivery: RequeueableDelivery) -> wire.Notification | None:
        try:
            return wire.decode(delivery.body)
        except MalformedMessage as exc:
            LOG.error("%r: acknowledged and dropped a malformed notification: %s", self, exc)
            return None

    async def _settle(self, delivery: RequeueableDelivery, requeue: bool) -> None:
        """Ack, or requeue when asked for and allowed; a failure is logged (the broker
        redelivers what it did not see acknowledged)."""
        try:
            settled = delivery.requeue() if requeue else delivery.done()
            if settled is not None:
                await settled
        except Exception:
            LOG.exception("%r: could not acknowledge or requeue a notification", self)

    def _wants_requeue(self, result: Any) -> bool:
        if result != NotificationResult.REQUEUE:
            return False
        if not self.allow_requeue:
            LOG.debug("%r: REQUEUE asked without allow_requeue; acknowledged", self)
        return self.allow_requeue


class NotificationListener(ListenerBase):
    """Dispatches each notification on its own, at most ``max_concurrency`` at once."""

    def __init__(
        self,
        transport: Transport,
        targets: Sequence[Target],
        dispatcher: NotificationDispatcher,
        *,
        allow_requeue: bool = False,
        pool: str | None = None,
        transient_pool: bool = False,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        super().__init__(
            transport,
            targets,
            dispatcher,
            allow_requeue=allow_requeue,
            pool=pool,
            transient_pool=transient_pool,
        )
        self.max_concurrency = max_concurrency
        self._backlog: collections.deque[RequeueableDelivery] = collections.deque()

    def _on_message(self, delivery: RequeueableDelivery) -> None:
        # A worker that finishes takes the next waiting message itself (as RPCServer).
        if len(self._tasks) < self.max_concurrency:
            self._spawn(self._work(delivery))
        else:
            self._backlog.append(delivery)

    async def _work(self, delivery: RequeueableDelivery) -> None:
        try:
            while True:
                await self._process(delivery)
                if not self._backlog:
                    return
                delivery = self._backlog.popleft()
        finally:  # at once, so a message arriving now finds room for a new worker
            self._tasks.discard(asyncio.current_task())

    async def _process(self, delivery: RequeueableDelivery) -> None:
        try:
            note = self._decode(delivery)
            result = NotificationResult.HANDLED
            if note is not None:
                result = await self.dispatcher.dispatch(note)
        except asyncio.CancelledError:
            await self._settle(delivery, requeue=True)  # aborted: not processed
            raise
        except Exception:
            LOG.exception("%r: failed to dispatch a notification", self)
            result = NotificationResult.REQUEUE
        await self._settle(delivery, self._wants_requeue(result))

    async def _drain(self) -> None:
        while self._tasks or self._backlog:
            if not self._tasks:  # no worker left to take the backlog
                self._on_message(self._backlog.popleft())
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _requeue_waiting(self) -> None:
        while self._backlog:
            await self._settle(self._backlog.popleft(), requeue=True)


def get_notification_listener(
    transport: Transport,
    targets: Sequence[Target],
    endpoints: Sequence[object],
    serializer: Serializer | None = None,
    allow_requeue: bool = False,
    pool: str | None = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    transient_pool: bool = False,
) -> NotificationListener:
    """Build (not start) a listener for ``targets`` (each needs a topic).

    Endpoint methods are named by lower-case priority and take ``(ctxt,
    publisher_id, event_type, payload, metadata)``; ``async def`` or plain.
    Without ``pool`` the listener shares each ``<topic>.<priority>`` queue with
    the other pool-less listeners (each message goes to one of them); with
    ``pool=NAME`` it shares the pool's queue, and every pool gets every
    message. ``allow_requeue`` lets ``NotificationResult.REQUEUE`` (or an
    endpoint that raises) put the message back; otherwise it is acknowledged.
    ``max_concurrency`` bounds the messages processed at once (oslo.messaging's
    executor pool, 64). ``transient_pool`` (not in oslo.messaging) makes the
    pool's queue this listener's own, deleted when it stops: for watchers.
    """
    return NotificationListener(
        transport,
        targets,
        NotificationDispatcher(endpoints, serializer),
        allow_requeue=allow_requeue,
        pool=pool,
        transient_pool=transient_pool,
        max_concurrency=max_concurrency,
    )
