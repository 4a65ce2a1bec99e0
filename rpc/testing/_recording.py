"""Test aids that look at what a service receives and what goes on the wire.

``RecordingEndpoint`` records what reaches it and lets a test wait for it with
a timeout instead of sleeping; ``capture`` subscribes to a target's queues at
the driver level and decodes the raw messages; ``send_raw`` publishes a body
as it is, bypassing the client (duplicates, malformed input).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aionova.rpc import _envelope as envelope
from aionova.rpc._target import Target
from aionova.rpc._transport import Transport
from aionova.rpc.driver import Delivery


class RecordingEndpoint:
    """An endpoint whose ``echo``, ``record`` and ``fail`` methods log each call."""

    def __init__(
        self,
        name: str = "",
        target: Target | None = None,
        *,
        changed: asyncio.Condition | None = None,
    ) -> None:
        self.name = name
        if target is not None:
            self.target = target
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: Notified after each recorded call; endpoints may share one (see wait_for_total).
        self.changed = changed or asyncio.Condition()

    async def _note(self, method: str, kwargs: dict[str, Any]) -> None:
        async with self.changed:
            self.calls.append((method, kwargs))
            self.changed.notify_all()

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
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(lambda: len(self.calls) >= count)
        return list(self.calls)


async def wait_for_total(
    endpoints: Sequence[RecordingEndpoint], count: int, timeout: float = 10.0
) -> None:
    """Wait until endpoints sharing one ``changed`` condition recorded ``count`` calls in all."""
    changed = endpoints[0].changed
    if any(endpoint.changed is not changed for endpoint in endpoints):
        raise ValueError("wait_for_total needs endpoints built with one shared `changed`")
    async with asyncio.timeout(timeout), changed:
        await changed.wait_for(lambda: sum(len(e.calls) for e in endpoints) >= count)


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


def request_body(method: str, ctxt: dict[str, Any] | None = None, **kwargs: Any) -> bytes:
    """A cast request for ``method(**kwargs)`` encoded exactly as a client sends it.

    Each body has its own ``_unique_id``: sending one body twice is a duplicate.
    """
    return envelope.encode_request(method, kwargs, ctxt or {})


async def send_raw(transport: Transport, target: Target, body: bytes) -> None:
    """Publish ``body`` unchanged to ``target`` through the transport's driver."""
    if not target.topic:
        raise ValueError("send_raw needs a target with a topic")
    await transport._driver.send(target, body)


@asynccontextmanager
async def capture(transport: Transport, target: Target) -> AsyncIterator[Captured]:
    """Listen on ``target`` (topic and server) at the driver level, no dispatching."""
    captured = Captured()
    listener = await transport._driver.listen(target, captured.on_message)
    try:
        yield captured
    finally:
        await listener.close()
