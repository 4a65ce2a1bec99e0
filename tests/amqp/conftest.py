"""Fixtures for tests against a real RabbitMQ (``scripts/rabbitmq.sh start``).

The broker is required: an unreachable ``AIONOVA_RABBIT_URL`` fails the tests
that need it, loudly, instead of skipping them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aionova.drivers.amqp import AmqpDriver
from amqp_helpers import amqp_url


@pytest.fixture
def topic() -> str:
    """A topic no other test uses."""
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def driver(rabbit_url: str) -> AsyncIterator[AmqpDriver]:
    drv = AmqpDriver(rabbit_url)
    yield drv
    await drv.close()


@pytest.fixture
async def raw_channel(rabbit_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A plain aio-pika channel, for looking at the wire."""
    connection = await aio_pika.connect(amqp_url(rabbit_url))
    channel = await connection.channel()
    yield channel
    await connection.close()
