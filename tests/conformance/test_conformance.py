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


@pytest.mark.rabbit
class TestRabbitAtLeastOnceConformance(DriverConformance):
    """The same kit in at-least-once mode: every publish confirmed, acks after processing.

    Its exchange is durable: a control exchange of its own keeps it from the
    non-durable ``openstack`` of the other tests.
    """

    @pytest.fixture
    def conformance_transports(self, rabbit_url: str) -> TransportFactory:
        exchange = f"conformance_{uuid.uuid4().hex[:12]}"
        return url_transports(f"{rabbit_url}?at_least_once=true&control_exchange={exchange}")
