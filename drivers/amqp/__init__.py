"""RabbitMQ transport (``rabbit://``) on aio-pika, wire-compatible with oslo.messaging."""

from drivers.amqp.driver import AmqpDriver
from drivers.amqp.settings import AmqpSettings, parse_url

__all__ = ["AmqpDriver", "AmqpSettings", "parse_url"]
