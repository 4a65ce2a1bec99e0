"""Client of the scheduler."""

from __future__ import annotations

from typing import Any

from aionova import rpc
from aionova.config import Config
from aionova.context import RequestContext
from aionova.messaging import get_client
from aionova.objects import RequestSpec

TOPIC = "scheduler"


class SchedulerAPI:
    """select_destinations: a call with the long timeout and a call monitor (heartbeats)."""

    def __init__(self, transport: rpc.Transport, config: Config) -> None:
        self.config = config
        self.client = get_client(transport, rpc.Target(topic=TOPIC, version="4.0"))

    async def select_destinations(
        self, ctxt: RequestContext, spec_obj: RequestSpec, instance_uuids: list[str]
    ) -> list[dict[str, Any] | None]:
        """One ``{host, nodename, limits}`` per instance (``None`` for one that no longer
        waits for a host: a duplicate request's), or ``NoValidHost``."""
        d = self.config.DEFAULT
        cctxt = self.client.prepare(
            version="4.3", timeout=d.long_rpc_timeout, call_monitor_timeout=d.rpc_response_timeout
        )
        result: list[dict[str, Any] | None] = await cctxt.call(
            ctxt, "select_destinations", spec_obj=spec_obj, instance_uuids=instance_uuids
        )
        return result
