"""The conformance kit itself: it passes a good driver and fails a broken one."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aionova.drivers.memory import MemoryDriver
from aionova.drivers.memory.driver import MemoryListener
from aionova.rpc import testing
from aionova.rpc.driver import MessageHandler

from aionova import rpc


class FanoutBlindDriver(MemoryDriver):
    """A broken driver: fanout casts go nowhere."""

    async def send(self, target: rpc.Target, body: bytes, **kwargs: object) -> None:
        if not target.fanout:
            await super().send(target, body, **kwargs)  # type: ignore[arg-type]


class ExchangeBlindDriver(MemoryDriver):
    """A broken driver: it listens on the control exchange, whatever the target says."""

    async def listen(
        self, target: rpc.Target, on_message: MessageHandler, *, window: int | None = None
    ) -> MemoryListener:
        return await super().listen(target(exchange=None), on_message, window=window)


def _bus() -> str:
    return f"memory://{uuid.uuid4().hex[:12]}"


async def test_check_driver_passes_memory() -> None:
    names = ["call_returns_exactly", "fanout_reaches_every_server", "request_wire_format"]
    assert await testing.check_driver(testing.url_transports(_bus()), only=names) == names


async def test_check_driver_fails_a_broken_driver_and_names_the_check() -> None:
    url = _bus()
    transports = testing.driver_transports(lambda: FanoutBlindDriver(url))
    with pytest.raises(testing.ConformanceError) as info:
        await testing.check_driver(
            transports, only=["cast_reaches_the_server", "fanout_reaches_every_server"]
        )
    assert list(info.value.failures) == ["fanout_reaches_every_server"]
    assert isinstance(info.value.failures["fanout_reaches_every_server"], TimeoutError)
    assert "1 conformance check(s) failed" in str(info.value)
    assert isinstance(info.value, AssertionError)


async def test_routing_by_exchange_is_checked() -> None:
    url = _bus()
    transports = testing.driver_transports(lambda: ExchangeBlindDriver(url))
    with pytest.raises(testing.ConformanceError) as info:
        await testing.check_driver(transports, only=["exchange_override_routes_separately"])
    failure = info.value.failures["exchange_override_routes_separately"]
    assert "another exchange" in str(failure)


async def test_a_check_is_bounded_by_its_timeout() -> None:
    url = _bus()
    transports = testing.driver_transports(lambda: FanoutBlindDriver(url))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await testing.run_check("fanout_reaches_every_server", transports, timeout=0.5)
    assert loop.time() - started < 3


async def test_unknown_check_names_are_refused() -> None:
    transports = testing.url_transports(_bus())
    with pytest.raises(ValueError, match="no conformance check"):
        await testing.run_check("teleports", transports)
    with pytest.raises(ValueError, match="no conformance check"):
        await testing.check_driver(transports, only=["call_returns_exactly", "teleports"])


async def test_a_factory_must_return_transports() -> None:
    def not_a_factory(**kwargs: object) -> rpc.Transport:
        return "memory://"  # type: ignore[return-value]

    with pytest.raises(TypeError, match="returned str"):
        await testing.run_check("cast_reaches_the_server", not_a_factory)


def test_every_check_is_a_test_of_the_base_class() -> None:
    tests = {n for n in dir(testing.DriverConformance) if n.startswith("test_")}
    assert tests == {f"test_{name}" for name in testing.CHECKS}
    assert len(testing.CHECKS) >= 22
