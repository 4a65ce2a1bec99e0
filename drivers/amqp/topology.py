"""Declarations on a channel, from the pure specs of ``naming.py``."""

from __future__ import annotations

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue, ExchangeType

from drivers.amqp.naming import ExchangeSpec, QueueSpec


async def declare_exchange(channel: AbstractChannel, spec: ExchangeSpec) -> AbstractExchange:
    """Declare ``spec`` (idempotent while the flags match; 406 otherwise)."""
    return await channel.declare_exchange(
        spec.name,
        ExchangeType(spec.type),
        durable=spec.durable,
        auto_delete=spec.auto_delete,
    )


async def declare_queue(channel: AbstractChannel, spec: QueueSpec) -> AbstractQueue:
    """Declare ``spec``'s queue, and its exchange and binding when it has one."""
    exchange = None
    if spec.exchange is not None:
        exchange = await declare_exchange(channel, spec.exchange)
    queue = await channel.declare_queue(
        spec.name,
        durable=spec.durable,
        auto_delete=spec.auto_delete,
        exclusive=spec.exclusive,
        arguments=dict(spec.arguments),
    )
    if exchange is not None:
        await queue.bind(exchange, spec.routing_key)
    return queue
