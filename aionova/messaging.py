"""Glue between aionova and ``aionova.rpc``: transports, clients and servers built the same
way everywhere (aionova's exceptions rebuilt on the caller, objects bound to the store of
the service that receives them). Message counts are the transport's: ``statistics()``."""

from __future__ import annotations

from typing import Any

from aionova import rpc
from aionova.exception import ALLOWED_EXMODS
from aionova.objects.serializer import ObjectSerializer
from aionova.objects.store import ObjectStore


def get_transport(url: str) -> rpc.Transport:
    """A transport whose clients rebuild aionova's exceptions."""
    return rpc.get_rpc_transport(url, allowed_remote_exmods=list(ALLOWED_EXMODS))


def get_client(
    transport: rpc.Transport,
    target: rpc.Target,
    *,
    store: ObjectStore | None = None,
    version_cap: str | None = None,
    timeout: float | None = None,
) -> rpc.RPCClient:
    """An RPC client with the object serializer (objects it receives bound to ``store``)."""
    return rpc.RPCClient(
        transport,
        target,
        timeout=timeout,
        version_cap=version_cap,
        serializer=ObjectSerializer(store),
    )


def get_server(
    transport: rpc.Transport,
    target: rpc.Target,
    endpoints: list[Any],
    *,
    store: ObjectStore | None = None,
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
