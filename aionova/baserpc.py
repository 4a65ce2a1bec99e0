"""BaseRPCAPI: the ``baseapi`` namespace every service answers (ping, get_backdoor_port)."""

from __future__ import annotations

from typing import Any

from aionova import rpc
from aionova.context import RequestContext

NAMESPACE = "baseapi"


class BaseRPCAPI:
    """Server side (version 1.1)."""

    target = rpc.Target(namespace=NAMESPACE, version="1.1")

    def __init__(self, service_name: str, backdoor_port: int | None = None) -> None:
        self.service_name = service_name
        self.backdoor_port = backdoor_port

    async def ping(self, ctxt: RequestContext, arg: Any) -> dict[str, Any]:
        return {"service": self.service_name, "arg": arg}

    async def get_backdoor_port(self, ctxt: RequestContext) -> int | None:
        return self.backdoor_port


class BaseAPI:
    """Client side (version 1.0; get_backdoor_port needs 1.1)."""

    def __init__(self, transport: rpc.Transport, topic: str, version_cap: str | None = None):
        target = rpc.Target(topic=topic, namespace=NAMESPACE, version="1.0")
        self.client = rpc.RPCClient(transport, target, version_cap=version_cap)

    async def ping(self, ctxt: RequestContext, arg: Any, call_timeout: float | None = None) -> Any:
        return await self.client.prepare(timeout=call_timeout).call(ctxt, "ping", arg=arg)

    async def get_backdoor_port(self, ctxt: RequestContext, host: str) -> int | None:
        cctxt = self.client.prepare(server=host, version="1.1")
        port: int | None = await cctxt.call(ctxt, "get_backdoor_port")
        return port
