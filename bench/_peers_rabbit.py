"""RabbitMQ peers: aionova on ``rabbit://``, a hand-written aio-pika request/reply, aio-pika's RPC.

Clients run in the bench worker process; servers in their own process
(``bench._worker server``), which counts casts in a Tally that clients read
back with a ``stats`` call.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aio_pika
import msgspec
from aio_pika.patterns import JsonRPC
from aio_pika.patterns.rpc import RPCMessageType

from aionova import rpc
from bench._peers_memory import Endpoint
from bench._stats import CONTEXT, Tally

AIONOVA_TOPIC = "bench_rpc_aionova"
CEILING_QUEUE = "bench_rpc_ceiling"


def amqp_url(url: str) -> str:
    """aio-pika's spelling of a ``rabbit://`` URL."""
    return url.replace("rabbit://", "amqp://", 1)


class AionovaRabbit:
    """aionova's RPCClient against a server in another process."""

    name = "aionova"
    tally = None

    def __init__(self, url: str) -> None:
        self._transport = rpc.get_rpc_transport(url)
        self._client = rpc.RPCClient(self._transport, rpc.Target(topic=AIONOVA_TOPIC), timeout=60)

    async def start(self) -> None:
        pass

    async def call(self, data: str) -> Any:
        return await self._client.call(CONTEXT, "echo", data=data)

    async def cast(self, data: str) -> None:
        await self._client.cast(CONTEXT, "count", data=data)

    async def stats(self) -> list[float]:
        result: list[float] = await self._client.call(CONTEXT, "stats")
        return result

    async def close(self) -> None:
        await self._transport.close()


async def serve_aionova(url: str, ready: Any, stop: asyncio.Event) -> None:
    """Serve the benchmark endpoint with aionova until ``stop`` is set."""
    async with rpc.get_rpc_transport(url) as transport:
        target = rpc.Target(topic=AIONOVA_TOPIC, server="s1")
        async with rpc.get_rpc_server(transport, target, [Endpoint(Tally())]):
            ready()
            await stop.wait()


class CeilingRabbit:
    """Publish with ``reply_to`` + ``correlation_id``; futures keyed by correlation id."""

    name = "ceiling"
    tally = None

    def __init__(self, url: str) -> None:
        self._url = amqp_url(url)
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        self._futures: dict[str, asyncio.Future[Any]] = {}
        self._ids = itertools.count()

    async def start(self) -> None:
        self._connection = await aio_pika.connect(self._url)
        channel = await self._connection.channel()
        self._exchange = channel.default_exchange
        self._replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        await self._replies.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        future = self._futures.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(self._decode(message.body)["result"])

    async def _request(self, method: str, args: dict[str, Any]) -> Any:
        msg_id = str(next(self._ids))
        future = self._futures[msg_id] = asyncio.get_running_loop().create_future()
        body = self._encode({"method": method, "args": args})
        message = aio_pika.Message(body, reply_to=self._replies.name, correlation_id=msg_id)
        try:
            await self._exchange.publish(message, routing_key=CEILING_QUEUE)
            return await asyncio.wait_for(future, 60)
        finally:
            self._futures.pop(msg_id, None)

    async def call(self, data: str) -> Any:
        return await self._request("echo", {"data": data})

    async def cast(self, data: str) -> None:
        body = self._encode({"method": "count", "args": {"data": data}})
        await self._exchange.publish(aio_pika.Message(body), routing_key=CEILING_QUEUE)

    async def stats(self) -> list[float]:
        result: list[float] = await self._request("stats", {})
        return result

    async def close(self) -> None:
        await self._connection.close()


async def serve_ceiling(url: str, ready: Any, stop: asyncio.Event) -> None:
    """Consume the ceiling queue, one handler task per message, replying to ``reply_to``."""
    encode, decode = msgspec.json.Encoder().encode, msgspec.json.Decoder().decode
    endpoint = Endpoint(Tally())
    connection = await aio_pika.connect(amqp_url(url))
    async with connection:
        channel = await connection.channel()
        exchange = channel.default_exchange
        queue = await channel.declare_queue(CEILING_QUEUE, auto_delete=True)
        await queue.purge()

        async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            request = decode(message.body)
            result = await getattr(endpoint, request["method"])(CONTEXT, **request["args"])
            if message.reply_to:
                reply = aio_pika.Message(
                    encode({"result": result}), correlation_id=message.correlation_id
                )
                await exchange.publish(reply, routing_key=message.reply_to)

        await queue.consume(handle, no_ack=True)
        ready()
        await stop.wait()


AIOPIKA_RPC_PREFIX = "bench_rpc_aiopika"


class AioPikaRpc:
    """aio-pika's own request/reply, ``aio_pika.patterns.JsonRPC``: a second library peer.

    Calls are ``rpc.call``; a cast is the same call message without ``reply_to``
    (the pattern has no cast of its own), which the server runs and acks.
    """

    name = "aio-pika-rpc"
    tally = None

    def __init__(self, url: str) -> None:
        self._url = amqp_url(url)

    async def start(self) -> None:
        self._connection = await aio_pika.connect(self._url)
        channel = await self._connection.channel()
        self._rpc = await JsonRPC.create(channel)
        self._exchange = channel.default_exchange

    async def call(self, data: str) -> Any:
        return await self._rpc.call(f"{AIOPIKA_RPC_PREFIX}.echo", kwargs={"data": data})

    async def cast(self, data: str) -> None:
        message = await self._rpc.serialize_message(
            payload={"data": data},
            message_type=RPCMessageType.CALL,
            correlation_id=None,
            delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
        )
        await self._exchange.publish(message, routing_key=f"{AIOPIKA_RPC_PREFIX}.count")

    async def stats(self) -> list[float]:
        result: list[float] = await self._rpc.call(f"{AIOPIKA_RPC_PREFIX}.stats")
        return result

    async def close(self) -> None:
        await self._rpc.close()
        await self._connection.close()


async def serve_aiopika_rpc(url: str, ready: Any, stop: asyncio.Event) -> None:
    """Register the benchmark endpoint's methods with aio-pika's JsonRPC."""
    endpoint = Endpoint(Tally())
    connection = await aio_pika.connect(amqp_url(url))
    async with connection:
        channel = await connection.channel()
        rpc = await JsonRPC.create(channel)
        for method in ("echo", "count", "stats"):
            bound = getattr(endpoint, method)

            async def handler(*, _bound: Any = bound, **kwargs: Any) -> Any:
                return await _bound(CONTEXT, **kwargs)

            await rpc.register(f"{AIOPIKA_RPC_PREFIX}.{method}", handler, auto_delete=True)
        ready()
        await stop.wait()
        await rpc.close()
