"""Helpers for testing services built on ``aionova.rpc`` (pytest-free).

``RecordingEndpoint`` records what reaches it and lets a test wait for it with
a timeout instead of sleeping; ``capture`` subscribes to a target's queues at
the driver level and decodes the raw messages, to look at what went on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aionova.rpc import _envelope as envelope
from aionova.rpc._target import Target
from aionova.rpc._transport import Transport
from aionova.rpc.driver import Delivery


class RecordingEndpoint:
    """An endpoint whose ``echo``, ``record`` and ``fail`` methods log each call."""

    def __init__(self, name: str = "", target: Target | None = None) -> None:
        self.name = name
        if target is not None:
            self.target = target
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()

    async def _note(self, method: str, kwargs: dict[str, Any]) -> None:
        async with self._changed:
            self.calls.append((method, kwargs))
            self._changed.notify_all()

    async def echo(self, ctxt: Any, **kwargs: Any) -> Any:
        await self._note("echo", kwargs)
        return kwargs.get("value")

    async def record(self, ctxt: Any, **kwargs: Any) -> str:
        await self._note("record", kwargs)
        return self.name

    async def context(self, ctxt: Any) -> Any:
        await self._note("context", {})
        return ctxt

    async def sleep(self, ctxt: Any, seconds: float) -> float:
        await self._note("sleep", {"seconds": seconds})
        await asyncio.sleep(seconds)
        return seconds

    async def fail(self, ctxt: Any, message: str = "boom") -> None:
        await self._note("fail", {"message": message})
        raise ValueError(message)

    async def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[tuple[str, Any]]:
        """Wait until at least ``count`` calls were recorded."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)
        return list(self.calls)


class Captured:
    """Raw messages received on a target's queues, decoded."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._arrived = asyncio.Event()
        self._settling: set[asyncio.Future[None]] = set()

    def on_message(self, delivery: Delivery) -> None:
        self.bodies.append(delivery.body)
        self._arrived.set()
        settled = delivery.done()
        if settled is not None:
            future = asyncio.ensure_future(settled)
            self._settling.add(future)
            future.add_done_callback(self._settling.discard)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [envelope.unwrap(body) for body in self.bodies]

    async def wait(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.bodies) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.messages


@asynccontextmanager
async def capture(transport: Transport, target: Target) -> AsyncIterator[Captured]:
    """Listen on ``target`` (topic and server) at the driver level, no dispatching."""
    captured = Captured()
    listener = await transport._driver.listen(target, captured.on_message)
    try:
        yield captured
    finally:
        await listener.close()
