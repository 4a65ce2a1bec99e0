"""Helpers shared by the RabbitMQ tests (a module name unique across test dirs)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import aio_pika
from aionova.drivers.amqp import parse_url
from aionova.drivers.amqp.connection import broker_url

REPO = Path(__file__).resolve().parents[2]


def amqp_url(url: str) -> str:
    """The plain aio-pika URL of the first host of a ``rabbit://`` URL."""
    settings = parse_url(url)
    return str(broker_url(settings, settings.hosts[0]))


def broker_ctl(action: str) -> None:
    """Stop or start the RabbitMQ node of scripts/rabbitmq.sh (restart tests)."""
    subprocess.run(
        ["bash", str(REPO / "scripts" / "rabbitmq.sh"), action],
        check=True,
        timeout=180,
        capture_output=True,
    )


async def next_message(queue: aio_pika.abc.AbstractQueue, within: float = 10) -> Any:
    """The next message on ``queue`` (polled, no consumer), within ``within`` seconds."""
    async with asyncio.timeout(within):
        while (message := await queue.get(no_ack=True, fail=False)) is None:
            await asyncio.sleep(0.02)
    return message
