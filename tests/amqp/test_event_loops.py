"""rabbit:// on both event loops the daemons run on: uvloop (the default) and asyncio."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aionova.rpc import RPCClient, Target, get_rpc_server, get_rpc_transport

from aionova import eventloop

pytestmark = pytest.mark.rabbit


class Worker:
    def __init__(self) -> None:
        self.notes: list[int] = []
        self.noted = asyncio.Event()

    async def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    def note(self, ctxt: dict[str, Any], n: int) -> None:
        self.notes.append(n)
        if len(self.notes) == 20:
            self.noted.set()

    def fail(self, ctxt: dict[str, Any]) -> None:
        raise ValueError("no")


async def scenario(url: str) -> str:
    topic = f"loops_{uuid.uuid4().hex[:8]}"
    worker = Worker()
    async with (
        get_rpc_transport(url) as server_side,
        get_rpc_transport(url) as client_side,
        get_rpc_server(server_side, Target(topic=topic, server="s1"), [worker]),
    ):
        client = RPCClient(client_side, Target(topic=topic), timeout=20)
        async with asyncio.timeout(30):
            results = await asyncio.gather(*(client.call({}, "echo", value=n) for n in range(50)))
            assert results == list(range(50))
            for n in range(20):
                await client.cast({}, "note", n=n)
            await worker.noted.wait()
            with pytest.raises(ValueError, match="no"):
                await client.call({}, "fail")
    assert sorted(worker.notes) == list(range(20))
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.parametrize("loop", eventloop.LOOPS)
def test_calls_casts_and_failures_on_each_loop(rabbit_url: str, loop: str) -> None:
    module = eventloop.run(scenario(rabbit_url), loop)
    assert module.startswith(loop)
