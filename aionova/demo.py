"""A two-minute tour of the RPC layer on ``memory://``: cast, call, version fallback.

Run ``python -m aionova.demo``. Two compute services answer on the topic
``compute``: ``new-host`` implements the rebuild interface at 4.5, ``old-host``
only at 4.0. A client in the style of Nova's ``compute/rpcapi.py`` sends
``rebuild_instance`` at 4.5 with the newer arguments when its version cap
allows it, and falls back to 4.0 without them when the cap is 4.0.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from aionova import rpc

TOPIC = "compute"


class RebuildEndpoint:
    """A compute host's endpoint; ``version`` is the interface it implements."""

    def __init__(self, host: str, version: str) -> None:
        self.host = host
        self.target = rpc.Target(version=version)
        self.log: list[str] = []

    async def rebuild_instance(self, ctxt: Any, instance: str, image: str, **newer: Any) -> str:
        self.log.append(f"rebuild {instance} with {image}, newer args {sorted(newer) or 'none'}")
        return f"{instance} rebuilt on {self.host}"

    async def ping(self, ctxt: Any, note: str) -> None:
        self.log.append(f"ping: {note}")


class ComputeClient:
    """One explicit method per remote method; each picks its version."""

    def __init__(self, transport: rpc.Transport, version_cap: str | None = None) -> None:
        target = rpc.Target(topic=TOPIC, version="4.0")
        self.client = rpc.RPCClient(transport, target, version_cap=version_cap, timeout=5)

    async def rebuild_instance(
        self,
        ctxt: Any,
        host: str,
        instance: str,
        image: str,
        migration: Any = None,
        scheduled_node: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {"instance": instance, "image": image}
        version = "4.5"
        if self.client.can_send_version(version):
            kwargs.update(migration=migration, scheduled_node=scheduled_node, limits=limits)
        else:
            version = "4.0"  # older peers: drop what 4.0 does not know
        cctxt = self.client.prepare(server=host, version=version)
        result: str = await cctxt.call(ctxt, "rebuild_instance", **kwargs)
        return result

    async def ping(self, ctxt: Any, host: str, note: str) -> None:
        await self.client.prepare(server=host).cast(ctxt, "ping", note=note)


async def main() -> None:
    logging.basicConfig(stream=sys.stdout, format="  log %(levelname)s %(name)s: %(message)s")
    ctxt = {"user": "demo", "project": "demo"}
    async with rpc.get_rpc_transport("memory://demo") as transport:
        new, old = RebuildEndpoint("new-host", "4.5"), RebuildEndpoint("old-host", "4.0")
        servers = [
            rpc.get_rpc_server(transport, rpc.Target(topic=TOPIC, server=e.host), [e])
            for e in (new, old)
        ]
        for server in servers:
            await server.start()
        uncapped, capped = ComputeClient(transport), ComputeClient(transport, version_cap="4.0")

        await capped.ping(ctxt, "old-host", "a cast needs no answer")
        print(
            "call (no cap) ->",
            await uncapped.rebuild_instance(
                ctxt, "new-host", "vm-1", "cirros", scheduled_node="node-1", limits={"vcpu": 8}
            ),
        )
        print("can_send_version('4.5') under cap 4.0:", capped.client.can_send_version("4.5"))
        print(
            "call (cap 4.0) ->",
            await capped.rebuild_instance(
                ctxt, "old-host", "vm-2", "cirros", scheduled_node="node-1", limits={"vcpu": 8}
            ),
        )
        try:
            await uncapped.rebuild_instance(ctxt, "old-host", "vm-3", "cirros")
        except rpc.UnsupportedVersion as exc:
            print("call (no cap) to the 4.0 host ->", type(exc).__name__ + ":", exc)
        for server in servers:
            await server.stop()
            await server.wait()
        for endpoint in (new, old):
            for line in endpoint.log:
                print(f"  [{endpoint.host}] {line}")


if __name__ == "__main__":
    asyncio.run(main())
