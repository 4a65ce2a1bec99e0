"""In-process peers: aionova on ``memory://`` and the asyncio + msgspec ceiling."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import msgspec

import rpc
from bench._stats import CONTEXT, AsyncTally, Tally

TOPIC = "bench_rpc"


class Endpoint:
    """The benchmark endpoint: ``echo`` for calls, ``count`` for casts, ``stats`` to poll."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    async def echo(self, ctxt: dict[str, Any], data: Any) -> Any:
        return data

    async def count(self, ctxt: dict[str, Any], data: Any) -> None:
        self.tally.hit()

    async def stats(self, ctxt: dict[str, Any]) -> list[float]:
        return self.tally.snapshot()


class AionovaMemory:
    """aionova through its public API; client and server on separate transports, one bus."""

    name = "aionova"

    def __init__(self) -> None:
        self.tally = AsyncTally()
        url = f"memory://bench-{os.urandom(4).hex()}"
        self._server_transport = rpc.get_rpc_transport(url)
        self._client_transport = rpc.get_rpc_transport(url)
        self._server = rpc.get_rpc_server(
            self._server_transport, rpc.Target(topic=TOPIC, server="s1"), [Endpoint(self.tally)]
        )
        self._client = rpc.RPCClient(self._client_transport, rpc.Target(topic=TOPIC), timeout=60)

    async def start(self) -> None:
        await self._server.start()

    async def call(self, data: str) -> Any:
        return await self._client.call(CONTEXT, "echo", data=data)

    async def cast(self, data: str) -> None:
        await self._client.cast(CONTEXT, "count", data=data)

    async def stats(self) -> list[float]:
        return self.tally.snapshot()

    async def close(self) -> None:
        await self._server.stop()
        await self._server.wait(timeout=30)
        await self._client_transport.close()
        await self._server_transport.close()


class CeilingMemory:
    """The least a request/reply can do: msgspec-encoded bytes handed over directly.

    The caller encodes ``{"id", "method", "args"}`` and parks a future under the
    id; the "server" decodes, runs the async handler as a task and encodes
    ``{"id", "result"}``; the reply handler decodes and resolves the future.
    Casts carry no id and get no reply.
    """

    name = "ceiling"

    def __init__(self) -> None:
        self.tally = AsyncTally()
        self._endpoint = Endpoint(self.tally)
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        self._futures: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def call(self, data: str) -> Any:
        self._next_id += 1
        msg_id = self._next_id
        future = self._futures[msg_id] = self._loop.create_future()
        self._server_receive(self._encode({"id": msg_id, "method": "echo", "args": {"data": data}}))
        return await future

    async def cast(self, data: str) -> None:
        self._server_receive(self._encode({"method": "count", "args": {"data": data}}))

    async def stats(self) -> list[float]:
        return self.tally.snapshot()

    def _server_receive(self, body: bytes) -> None:
        task = self._loop.create_task(self._serve(self._decode(body)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, request: dict[str, Any]) -> None:
        method = getattr(self._endpoint, request["method"])
        result = await method(CONTEXT, **request["args"])
        if "id" in request:
            self._client_receive(self._encode({"id": request["id"], "result": result}))

    def _client_receive(self, body: bytes) -> None:
        reply = self._decode(body)
        future = self._futures.pop(reply["id"], None)
        if future is not None and not future.done():
            future.set_result(reply["result"])

    async def close(self) -> None:
        await asyncio.gather(*self._tasks)
