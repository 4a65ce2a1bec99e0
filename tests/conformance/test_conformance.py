"""Both drivers pass the conformance kit (``aionova.rpc.testing``), as any driver would.

The rabbit run needs the broker started by ``scripts/rabbitmq.sh start`` (the
README's test command does it); it fails, never skips, when none answers.
"""

from __future__ import annotations

import uuid

import pytest
from aionova.rpc.testing import DriverConformance, TransportFactory, url_transports


class TestMemoryConformance(DriverConformance):
    @pytest.fixture
    def conformance_transports(self) -> TransportFactory:
        return url_transports(f"memory://{uuid.uuid4().hex[:12]}")  # a bus of its own


@pytest.mark.rabbit
class TestRabbitConformance(DriverConformance):
    @pytest.fixture
    def conformance_transports(self, rabbit_url: str) -> TransportFactory:
        return url_transports(rabbit_url)


@pytest.mark.rabbit
class TestRabbitDirectReplyConformance(DriverConformance):
    """The same kit with callers on RabbitMQ's direct reply-to (``direct_reply_to=true``)."""

    @pytest.fixture
    def conformance_transports(self, rabbit_url: str) -> TransportFactory:
        return url_transports(rabbit_url + "?direct_reply_to=true")
