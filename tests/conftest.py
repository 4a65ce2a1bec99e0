"""Fixtures shared by every test directory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

import rpc


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
