"""Glue between aionova and ``aionova.rpc``: transports, clients and servers built the same way
everywhere, plus counters of the messages sent (the boot-storm bench reads them)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aionova import rpc
from aionova.exception import ALLOWED_EXMODS
from aionova.objects.base import ObjectSerializer

STATS: Counter[str] = Counter()
"""Messages sent by this process: ``cast``, ``call`` (a call is a request and a reply)."""


def messages_sent() -> int:
    """Requests + replies sent since start (casts count 1, calls 2)."""
    return STATS["cast"] + 2 * STATS["call"]


def get_transport(url: str) -> rpc.Transport:
    """A transport whose clients rebuild aionova's exceptions."""
    return rpc.get_rpc_transport(url, allowed_remote_exmods=list(ALLOWED_EXMODS))


class Client:
    """An RPCClient with the object serializer, counting what it sends."""

    def __init__(self, client: rpc.RPCClient) -> None:
        self._client = client

    @classmethod
    def create(
        cls,
        transport: rpc.Transport,
        target: rpc.Target,
        *,
        store: Any = None,
        version_cap: str | None = None,
        timeout: float | None = None,
    ) -> Client:
        serializer = ObjectSerializer(store)
        return cls(
            rpc.RPCClient(
                transport, target, timeout=timeout, version_cap=version_cap, serializer=serializer
            )
        )

    def prepare(self, **kwargs: Any) -> Client:
        return Client(self._client.prepare(**kwargs))

    def can_send_version(self, version: str) -> bool:
        return self._client.can_send_version(version)

    async def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        STATS["cast"] += 1
        await self._client.cast(ctxt, method, **kwargs)

    async def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        STATS["call"] += 1
        return await self._client.call(ctxt, method, **kwargs)


def get_server(
    transport: rpc.Transport,
    target: rpc.Target,
    endpoints: list[Any],
    *,
    store: Any = None,
    max_concurrency: int = 64,
) -> rpc.RPCServer:
    """An RPC server whose incoming objects are bound to ``store``."""
    return rpc.get_rpc_server(
        transport,
        target,
        endpoints,
        serializer=ObjectSerializer(store),
        max_concurrency=max_concurrency,
    )
