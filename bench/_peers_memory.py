"""In-process peers: aionova on ``memory://`` and the asyncio + msgspec ceiling."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import msgspec

from aionova import rpc
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

    The caller parks a future under an id and hands over the encoded request;
    the "server" decodes it, runs the async handler as a task and encodes a
    reply; the reply handler decodes it and resolves the future. Casts carry
    no id and get no reply.

    ``wire=True`` (peer ``ceiling``) encodes the same messages aionova puts on
    the wire: oslo.messaging's envelope (the message JSON inside a JSON
    string) with the method, args, context keys, ids and reply address. The
    issue requires ``memory://`` to carry exactly those bytes, so this is the
    fair bound on what a framework can reach. ``wire=False`` (peer
    ``ceiling-bare``) encodes only ``{"id", "method", "args"}``: what a
    framework free to choose its own format, and to drop the context, could do.
    """

    def __init__(self, *, wire: bool = True) -> None:
        self.name = "ceiling" if wire else "ceiling-bare"
        self.tally = AsyncTally()
        self._endpoint = Endpoint(self.tally)
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        self._wrap = self._wrap_wire if wire else self._encode
        self._unwrap = self._unwrap_wire if wire else self._decode
        self._wire = wire
        self._futures: dict[str, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._reply_q = f"reply_{os.urandom(16).hex()}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def _new_id(self) -> str:
        # A counter, not random bytes: the cheapest id of the same length.
        self._next_id += 1
        return f"{self._next_id:032x}"

    def _wrap_wire(self, message: dict[str, Any]) -> bytes:
        inner = self._encode(message).decode()
        return self._encode({"oslo.version": "2.0", "oslo.message": inner})

    def _unwrap_wire(self, body: bytes) -> Any:
        return self._decode(self._decode(body)["oslo.message"])

    def _request(self, method: str, data: str, msg_id: str | None) -> bytes:
        message: dict[str, Any] = {"method": method, "args": {"data": data}}
        if not self._wire:
            if msg_id is not None:
                message["id"] = msg_id
            return self._encode(message)
        if msg_id is not None:
            message.update(_msg_id=msg_id, _reply_q=self._reply_q, _timeout=None)
        message["_unique_id"] = self._new_id()
        for key, value in CONTEXT.items():
            message["_context_" + key] = value
        return self._wrap(message)

    def _reply(self, msg_id: str, result: Any) -> bytes:
        if not self._wire:
            return self._encode({"id": msg_id, "result": result})
        return self._wrap(
            {
                "result": result,
                "failure": None,
                "ending": True,
                "_msg_id": msg_id,
                "_unique_id": self._new_id(),
            }
        )

    async def call(self, data: str) -> Any:
        msg_id = self._new_id()
        future = self._futures[msg_id] = self._loop.create_future()
        self._server_receive(self._request("echo", data, msg_id))
        return await future

    async def cast(self, data: str) -> None:
        self._server_receive(self._request("count", data, None))

    async def stats(self) -> list[float]:
        return self.tally.snapshot()

    def _server_receive(self, body: bytes) -> None:
        task = self._loop.create_task(self._serve(self._unwrap(body)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, request: dict[str, Any]) -> None:
        if self._wire:
            ctxt = {k[9:]: v for k, v in request.items() if k[:9] == "_context_"}
            msg_id = request.get("_msg_id")
        else:
            ctxt, msg_id = CONTEXT, request.get("id")
        method = getattr(self._endpoint, request["method"])
        result = await method(ctxt, **request["args"])
        if msg_id is not None:
            self._client_receive(self._reply(msg_id, result))

    def _client_receive(self, body: bytes) -> None:
        reply = self._unwrap(body)
        future = self._futures.pop(reply["_msg_id" if self._wire else "id"], None)
        if future is not None and not future.done():
            future.set_result(reply["result"])

    async def close(self) -> None:
        await asyncio.gather(*self._tasks)
