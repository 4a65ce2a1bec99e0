"""Fixtures for the notification tests: each runs on ``memory://`` and on RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aionova.rpc.notify._wire import PRIORITIES

from aionova import rpc
from tests.notify.helpers import delete_queues


@pytest.fixture
def topic() -> str:
    return f"ntf_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pools() -> list[str]:
    """Pool names a test uses (their queues are deleted afterwards on RabbitMQ)."""
    return []


@pytest.fixture(params=["memory", pytest.param("rabbit", marks=pytest.mark.rabbit)])
async def url(request: pytest.FixtureRequest, topic: str, pools: list[str]) -> AsyncIterator[str]:
    """A ``memory://`` bus of the test's own, or the test RabbitMQ (queues cleaned up)."""
    if request.param == "memory":
        yield f"memory://{uuid.uuid4().hex[:12]}"
        return
    rabbit: str = request.getfixturevalue("rabbit_url")
    yield rabbit
    await delete_queues(rabbit, [f"{topic}.{p}" for p in PRIORITIES] + pools)


@pytest.fixture
async def transport(url: str) -> AsyncIterator[rpc.Transport]:
    async with rpc.get_notification_transport(url) as tr:
        yield tr


@pytest.fixture
async def is_rabbit(url: str) -> bool:
    return url.startswith("rabbit")
