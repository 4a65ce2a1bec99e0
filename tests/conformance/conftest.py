"""The conformance suite runs once per transport: ``memory://`` and ``rabbit://``.

The rabbit run needs the broker started by ``scripts/rabbitmq.sh start`` (the
README's test command does it); it fails, never skips, when none answers.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

import rpc

RABBIT_URL = os.environ.get("AIONOVA_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")


def _require_broker(url: str) -> None:
    parts = urlsplit(url.split(",")[0])
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 5).close()
    except OSError as exc:
        pytest.fail(f"RabbitMQ is not reachable at {url}: {exc}; run scripts/rabbitmq.sh start")


@pytest.fixture(params=["memory", pytest.param("rabbit", marks=pytest.mark.rabbit)])
def transport_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex[:12]}"
    _require_broker(RABBIT_URL)
    return RABBIT_URL


@pytest.fixture
async def transport(transport_url: str) -> AsyncIterator[rpc.Transport]:
    async with rpc.get_rpc_transport(
        transport_url, allowed_remote_exmods=["tests.conformance.remote_errors"]
    ) as t:
        yield t


@pytest.fixture
async def server_transport(transport_url: str) -> AsyncIterator[rpc.Transport]:
    """A second transport on the same bus or broker, as a server process would have."""
    async with rpc.get_rpc_transport(transport_url) as t:
        yield t
