"""RabbitMQ transport (``rabbit://``) on aio-pika, wire-compatible with oslo.messaging."""

from aionova.drivers.amqp.driver import AmqpDriver
from aionova.drivers.amqp.settings import AmqpSettings, parse_url

__all__ = ["AmqpDriver", "AmqpSettings", "parse_url"]
