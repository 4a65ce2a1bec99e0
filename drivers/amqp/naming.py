"""Pure topology: the names, flags and arguments oslo.messaging declares.

Nothing here does I/O. ``topology.py`` turns these values into declarations,
so the exact oslo.messaging shapes (which RabbitMQ checks on every redeclare)
live in one tested place.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aionova.drivers.amqp.settings import AmqpSettings
from aionova.rpc._target import Target

REPLY_PREFIX = "reply_"
#: RabbitMQ's direct reply-to: consumed as ``amq.rabbitmq.reply-to``, answered to
#: the ``amq.rabbitmq.reply-to.<channel key>`` name the broker gives the consumer.
DIRECT_REPLY_QUEUE = "amq.rabbitmq.reply-to"
DIRECT_REPLY_PREFIX = DIRECT_REPLY_QUEUE + "."
FANOUT_SUFFIX = "_fanout"


@dataclass(frozen=True, slots=True)
class ExchangeSpec:
    """An exchange as declared (``''`` is the default exchange, never declared)."""

    name: str
    type: str = "topic"
    durable: bool = False
    auto_delete: bool = False


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue as declared, with the exchange and key it is bound to (if any)."""

    name: str
    durable: bool = False
    auto_delete: bool = False
    exclusive: bool = False
    arguments: Mapping[str, Any] = field(default_factory=dict)
    exchange: ExchangeSpec | None = None
    routing_key: str = ""


DEFAULT_EXCHANGE = ExchangeSpec("", type="direct")


def new_suffix() -> str:
    """A random suffix shaped like ``uuid4().hex`` (32 hex digits)."""
    return uuid.uuid4().hex


def reply_queue_name(suffix: str | None = None) -> str:
    return REPLY_PREFIX + (suffix or new_suffix())


def fanout_exchange_name(topic: str) -> str:
    return topic + FANOUT_SUFFIX


def fanout_queue_name(topic: str, suffix: str | None = None) -> str:
    return f"{topic}{FANOUT_SUFFIX}_{suffix or new_suffix()}"


def server_queue_name(topic: str, server: str) -> str:
    return f"{topic}.{server}"


def _quorum_arguments(settings: AmqpSettings) -> dict[str, Any]:
    """``x-queue-type: quorum`` and the quorum limits that are set (0: not sent)."""
    args: dict[str, Any] = {"x-queue-type": "quorum"}
    if settings.quorum_delivery_limit:
        args["x-delivery-limit"] = settings.quorum_delivery_limit
    if settings.quorum_max_memory_length:
        args["x-max-in-memory-length"] = settings.quorum_max_memory_length
    if settings.quorum_max_memory_bytes:
        args["x-max-in-memory-bytes"] = settings.quorum_max_memory_bytes
    return args


def shared_queue_arguments(settings: AmqpSettings) -> dict[str, Any]:
    """Arguments of the topic and topic.server queues (none by default, no x-expires)."""
    args: dict[str, Any] = {}
    if settings.ha_queues:
        args["x-ha-policy"] = "all"
    if settings.quorum_queues:
        args.update(_quorum_arguments(settings))
    return args


def transient_queue_arguments(settings: AmqpSettings) -> dict[str, Any]:
    """Arguments of the reply and fanout queues: ``x-expires`` in milliseconds (none
    when ``rabbit_transient_queues_ttl`` is 0), quorum ones with
    ``rabbit_transient_quorum_queue`` (the quorum limits included, as oslo.messaging)."""
    args: dict[str, Any] = {}
    if settings.ha_queues:
        args["x-ha-policy"] = "all"
    if settings.transient_quorum_queues:
        args.update(_quorum_arguments(settings))
    if settings.transient_queues_ttl > 0:
        args["x-expires"] = settings.transient_queues_ttl * 1000
    return args


def topic_exchange(settings: AmqpSettings, target: Target) -> ExchangeSpec:
    """``target.exchange`` or the control exchange, a topic exchange."""
    return ExchangeSpec(
        target.exchange or settings.control_exchange,
        "topic",
        durable=settings.durable,
        auto_delete=settings.auto_delete,
    )


def fanout_exchange(settings: AmqpSettings, topic: str) -> ExchangeSpec:
    """``<topic>_fanout``: named by the topic only, auto-deleted."""
    return ExchangeSpec(
        fanout_exchange_name(topic),
        "fanout",
        durable=settings.transient_quorum_queues,
        auto_delete=True,
    )


def publish_address(settings: AmqpSettings, target: Target) -> tuple[ExchangeSpec, str]:
    """Where a request goes: (exchange, routing key). Fanout wins over server."""
    topic = target.topic or ""
    if target.fanout:
        return fanout_exchange(settings, topic), ""
    if target.server:
        return topic_exchange(settings, target), server_queue_name(topic, target.server)
    return topic_exchange(settings, target), topic


def server_queues(
    settings: AmqpSettings, target: Target, suffix: str | None = None
) -> tuple[QueueSpec, QueueSpec, QueueSpec]:
    """The three queues a server consumes: ``topic``, ``topic.server``, its fanout queue."""
    topic = target.topic or ""
    server = target.server or ""
    exchange = topic_exchange(settings, target)
    shared = shared_queue_arguments(settings)
    common = {"durable": settings.durable, "auto_delete": settings.auto_delete}
    server_key = server_queue_name(topic, server)
    return (
        QueueSpec(topic, arguments=shared, exchange=exchange, routing_key=topic, **common),
        QueueSpec(
            server_key, arguments=shared, exchange=exchange, routing_key=server_key, **common
        ),
        QueueSpec(
            fanout_queue_name(topic, suffix),
            durable=settings.transient_quorum_queues,
            arguments=transient_queue_arguments(settings),
            exchange=fanout_exchange(settings, topic),
            routing_key=topic,
        ),
    )


def reply_queue(settings: AmqpSettings, suffix: str | None = None) -> QueueSpec:
    """The per-driver ``reply_<hex>`` queue: transient, consumed through the default exchange."""
    return QueueSpec(
        reply_queue_name(suffix),
        durable=settings.transient_quorum_queues,
        arguments=transient_queue_arguments(settings),
    )
