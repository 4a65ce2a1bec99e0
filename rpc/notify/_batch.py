"""The batch listener: endpoints get lists of notifications.

A batch is dispatched when it holds ``batch_size`` messages or when
``batch_timeout`` seconds have passed since its first message, whichever
comes first (``batch_size`` None: no size limit; ``batch_timeout`` None: no
time limit; both None: batches of one). Batches are dispatched one after the
other, in the order they filled; each message is then acknowledged, or
requeued with its priority group when an endpoint answered ``REQUEUE`` (or
raised) and requeueing is allowed.

Over RabbitMQ a batch larger than the transport's ``prefetch`` (when set)
can only be completed by the timeout: give a ``batch_timeout`` then.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Sequence

from aionova.rpc._serializer import Serializer
from aionova.rpc._target import Target
from aionova.rpc._transport import Transport
from aionova.rpc.driver import RequeueableDelivery
from aionova.rpc.notify._dispatcher import BatchNotificationDispatcher, NotificationResult
from aionova.rpc.notify._listener import ListenerBase

LOG = logging.getLogger(__name__)

Batch = list[RequeueableDelivery]


class BatchNotificationListener(ListenerBase):
    """Collects deliveries into batches and dispatches them in order."""

    dispatcher: BatchNotificationDispatcher

    def __init__(
        self,
        transport: Transport,
        targets: Sequence[Target],
        dispatcher: BatchNotificationDispatcher,
        *,
        allow_requeue: bool = False,
        pool: str | None = None,
        transient_pool: bool = False,
        batch_size: int | None = None,
        batch_timeout: float | None = None,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if batch_timeout is not None and batch_timeout <= 0:
            raise ValueError("batch_timeout must be positive")
        super().__init__(
            transport,
            targets,
            dispatcher,
            allow_requeue=allow_requeue,
            pool=pool,
            transient_pool=transient_pool,
        )
        if batch_size is None and batch_timeout is None:
            batch_size = 1
        self.batch_size = batch_size
        self.batch_timeout = batch_timeout
        self._filling: Batch = []
        self._timer: asyncio.TimerHandle | None = None
        self._full: collections.deque[Batch] = collections.deque()
        self._worker: asyncio.Task[None] | None = None

    def _on_message(self, delivery: RequeueableDelivery) -> None:
        self._filling.append(delivery)
        if self.batch_size is not None and len(self._filling) >= self.batch_size:
            self._close_batch()
        elif self._timer is None and self.batch_timeout is not None:
            self._timer = asyncio.get_running_loop().call_later(
                self.batch_timeout, self._close_batch
            )

    def _close_batch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._filling = self._filling, []
        if not batch:
            return
        self._full.append(batch)
        if self._worker is None:  # one worker dispatches the batches, in order
            self._worker = self._spawn(self._work())

    async def _work(self) -> None:
        try:
            while self._full:
                await self._process(self._full.popleft())
        finally:  # at once, so the next batch finds no worker and starts one
            self._worker = None

    async def _process(self, batch: Batch) -> None:
        kept: Batch = []
        notes = []
        for delivery in batch:
            note = self._decode(delivery)
            if note is None:
                await self._settle(delivery, requeue=False)
            else:
                kept.append(delivery)
                notes.append(note)
        if not notes:
            return
        try:
            requeue = await self.dispatcher.dispatch_batch(notes)
        except asyncio.CancelledError:
            for delivery in kept:  # aborted: not processed
                await self._settle(delivery, requeue=True)
            raise
        except Exception:
            LOG.exception("%r: failed to dispatch a batch of %d", self, len(notes))
            requeue = set(range(len(notes)))
        for index, delivery in enumerate(kept):
            result = NotificationResult.REQUEUE if index in requeue else NotificationResult.HANDLED
            await self._settle(delivery, self._wants_requeue(result))

    async def _drain(self) -> None:
        self._close_batch()
        while self._worker is not None or self._full:
            if self._worker is None:
                self._worker = self._spawn(self._work())
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _requeue_waiting(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._worker = None
        waiting = [*self._filling, *(d for batch in self._full for d in batch)]
        self._filling, self._full = [], collections.deque()
        for delivery in waiting:
            await self._settle(delivery, requeue=True)


def get_batch_notification_listener(
    transport: Transport,
    targets: Sequence[Target],
    endpoints: Sequence[object],
    serializer: Serializer | None = None,
    allow_requeue: bool = False,
    pool: str | None = None,
    batch_size: int | None = None,
    batch_timeout: float | None = None,
    *,
    transient_pool: bool = False,
) -> BatchNotificationListener:
    """Build (not start) a batch listener: endpoint methods named by priority take one
    argument, the list of message dicts (``ctxt``, ``publisher_id``, ``event_type``,
    ``payload``, ``metadata``). See the module docstring for batching."""
    return BatchNotificationListener(
        transport,
        targets,
        BatchNotificationDispatcher(endpoints, serializer),
        allow_requeue=allow_requeue,
        pool=pool,
        transient_pool=transient_pool,
        batch_size=batch_size,
        batch_timeout=batch_timeout,
    )
