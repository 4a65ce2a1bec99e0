"""The conformance suite runs once per transport: ``memory://`` and ``rabbit://``.

The rabbit run needs the broker started by ``scripts/rabbitmq.sh start`` (the
README's test command does it); it fails, never skips, when none answers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from aionova import rpc


@pytest.fixture(params=["memory", pytest.param("rabbit", marks=pytest.mark.rabbit)])
def transport_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex[:12]}"
    url: str = request.getfixturevalue("rabbit_url")
    return url


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
