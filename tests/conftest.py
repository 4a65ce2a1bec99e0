"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from aionova import rpc

DEFAULT_RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"


@pytest.fixture(scope="session")
def rabbit_url() -> str:
    """The broker of ``scripts/rabbitmq.sh`` (or ``AIONOVA_RABBIT_URL``).

    Tests that need it fail, never skip, when nothing answers there.
    """
    url = os.environ.get("AIONOVA_RABBIT_URL", DEFAULT_RABBIT_URL)
    first = urlsplit(url.split(",")[0])
    try:
        socket.create_connection((first.hostname or "127.0.0.1", first.port or 5672), 10).close()
    except OSError as exc:
        pytest.fail(
            f"RabbitMQ is not reachable at {url} ({exc}); run `bash scripts/rabbitmq.sh start`",
            pytrace=False,
        )
    return url


@pytest.fixture
def bus_url() -> str:
    """A ``memory://`` URL no other test uses."""
    return f"memory://{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def transport(bus_url: str) -> AsyncIterator[rpc.Transport]:
    async with rpc.get_rpc_transport(bus_url, allowed_remote_exmods=[__name__]) as t:
        yield t


@pytest.fixture
def topic() -> str:
    return f"topic_{uuid.uuid4().hex[:8]}"
