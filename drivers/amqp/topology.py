"""Declarations on a channel, from the pure specs of ``naming.py``.

oslo.messaging's durable fallback lives here: when the driver is configured
for durable queues (``amqp_durable_queues``) but another service declared the
exchange or queue non-durable first, RabbitMQ answers the redeclaration with
``406 PRECONDITION_FAILED - inequivalent arg 'durable'`` and closes the
channel. The declarer then opens a fresh channel, logs a warning and
redeclares the entity non-durable. As in oslo.messaging, the queues bound to
an exchange that fell back are declared non-durable too. Any other 406
(``x-expires``, ``x-queue-type`` …) raises ``DeclarationConflict``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue, ExchangeType
from aionova.drivers.amqp.errors import (
    DeclarationConflict,
    is_durable_mismatch,
    is_precondition_failed,
)
from aionova.drivers.amqp.naming import ExchangeSpec, QueueSpec

LOG = logging.getLogger(__name__)

OpenChannel = Callable[[], Awaitable[AbstractChannel]]
_Spec = TypeVar("_Spec", ExchangeSpec, QueueSpec)
_Entity = TypeVar("_Entity", AbstractExchange, AbstractQueue)


async def declare_exchange(channel: AbstractChannel, spec: ExchangeSpec) -> AbstractExchange:
    """Declare ``spec`` (idempotent while the flags match; 406 otherwise)."""
    return await channel.declare_exchange(
        spec.name,
        ExchangeType(spec.type),
        durable=spec.durable,
        auto_delete=spec.auto_delete,
    )


async def _declare_queue_only(channel: AbstractChannel, spec: QueueSpec) -> AbstractQueue:
    return await channel.declare_queue(
        spec.name,
        durable=spec.durable,
        auto_delete=spec.auto_delete,
        exclusive=spec.exclusive,
        arguments=dict(spec.arguments),
    )


class Declarer:
    """Declares on one channel, with oslo.messaging's durable fallback.

    A 406 costs the channel, so the fallback opens another with
    ``open_channel``: after any declaration, ``channel`` is the one to go on
    using (consuming, publishing). Exchanges that fell back are remembered, so
    later declarations of them (and of their queues) go non-durable at once.
    """

    def __init__(self, channel: AbstractChannel, open_channel: OpenChannel) -> None:
        self.channel = channel
        self._open_channel = open_channel
        self._nondurable: set[str] = set()  # exchanges that fell back

    async def exchange(self, spec: ExchangeSpec) -> AbstractExchange:
        """Declare ``spec``; a durable one that exists non-durable is redeclared so."""
        if spec.durable and spec.name in self._nondurable:
            spec = dataclasses.replace(spec, durable=False)
        exchange, fell_back = await self._declare("exchange", spec, declare_exchange)
        if fell_back:
            self._nondurable.add(spec.name)
        return exchange

    async def queue(self, spec: QueueSpec) -> AbstractQueue:
        """Declare ``spec``'s queue, and its exchange and binding when it has one."""
        exchange = None
        if spec.exchange is not None:
            exchange = await self.exchange(spec.exchange)
            if spec.durable and spec.exchange.name in self._nondurable:
                spec = dataclasses.replace(spec, durable=False)  # what oslo.messaging does
        queue, _ = await self._declare("queue", spec, _declare_queue_only)
        if exchange is not None:
            await queue.bind(exchange, spec.routing_key)
        return queue

    async def _declare(
        self,
        kind: str,
        spec: _Spec,
        declare: Callable[[AbstractChannel, _Spec], Awaitable[_Entity]],
    ) -> tuple[_Entity, bool]:
        try:
            return await declare(self.channel, spec), False
        except Exception as exc:
            if not is_precondition_failed(exc):
                raise
            if not (spec.durable and is_durable_mismatch(exc)):
                raise DeclarationConflict(kind, spec.name, exc) from exc
            LOG.warning(
                "AMQP: %s %r exists with other durability (%s); redeclaring it non-durable",
                kind,
                spec.name,
                exc,
            )
        # The broker closed the channel with the 406: go on with a fresh one.
        self.channel = await self._open_channel()
        fallback = dataclasses.replace(spec, durable=False)
        try:
            return await declare(self.channel, fallback), True
        except Exception as exc:
            if is_precondition_failed(exc):
                raise DeclarationConflict(kind, spec.name, exc) from exc
            raise
