"""A driver from outside the project proves itself with the kit (the README's example).

``CountingDriver`` is what a third party would write: its own class implementing
``aionova.rpc.driver.Driver`` (here around ``memory://``, counting what it
publishes), used through ``Transport(driver)`` without any entry point.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from aionova.drivers.memory import MemoryDriver
from aionova.rpc.driver import Driver, Listener, MessageHandler, ReplyHandler
from aionova.rpc.testing import DriverConformance, TransportFactory, driver_transports

from aionova import rpc


class CountingDriver:
    """A driver that publishes through an in-process bus and counts its messages."""

    def __init__(self, bus: str) -> None:
        self._inner = MemoryDriver(f"memory://{bus}")
        self.published = 0

    async def send(
        self,
        target: rpc.Target,
        body: bytes,
        *,
        timeout: float | None = None,
        retry: int | None = None,
        mandatory: bool = False,
    ) -> None:
        self.published += 1
        await self._inner.send(target, body, timeout=timeout, retry=retry, mandatory=mandatory)

    async def reply(self, reply_to: str, body: bytes) -> None:
        self.published += 1
        await self._inner.reply(reply_to, body)

    async def reply_address(self, on_reply: ReplyHandler) -> str:
        return await self._inner.reply_address(on_reply)

    async def listen(
        self, target: rpc.Target, on_message: MessageHandler, *, window: int | None = None
    ) -> Listener:
        return await self._inner.listen(target, on_message, window=window)

    async def close(self) -> None:
        await self._inner.close()


class TestCountingDriver(DriverConformance):
    @pytest.fixture
    def conformance_transports(self, made: list[CountingDriver]) -> TransportFactory:
        bus = uuid.uuid4().hex  # every driver of one test shares a bus, like one broker

        def new_driver() -> Driver:
            made.append(CountingDriver(bus))
            return made[-1]

        return driver_transports(new_driver)


@pytest.fixture
def made() -> Iterator[list[CountingDriver]]:
    """The drivers a test made: the kit must really have published through them."""
    drivers: list[CountingDriver] = []
    yield drivers
    assert drivers and sum(d.published for d in drivers) > 0


def from_url(url: str) -> CountingDriver:
    """The driver factory a registration names (``counting://BUS``)."""
    return CountingDriver(url.partition("://")[2] or "counting")
