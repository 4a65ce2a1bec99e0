"""Manager: the base of every service's main endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aionova import rpc
from aionova.config import Config
from aionova.context import RequestContext
from aionova.messaging import get_notifier
from aionova.objects import ObjectStore, Service

PeriodicTask = tuple[float, Callable[[RequestContext], Awaitable[None]]]


class Manager:
    """A service's behaviour; the ``Service`` runs it. Hooks are called in Nova's order."""

    service_name = "base"
    target = rpc.Target(version="1.0")

    def __init__(
        self, host: str, config: Config, transport: rpc.Transport, store: ObjectStore
    ) -> None:
        self.host = host
        self.config = config
        self.transport = transport
        self.store = store
        self.service_ref: Service | None = None
        self.additional_endpoints: list[Any] = []
        self.notifier = get_notifier(
            config, transport, host=host, binary=f"nova-{self.service_name}"
        )

    async def init_host(self, service_ref: Service | None) -> None:
        """Recover local state before the service row is written and messages consumed."""

    async def pre_start_hook(self, ctxt: RequestContext) -> None:
        """After the service row exists, before the RPC server starts."""

    async def post_start_hook(self, ctxt: RequestContext) -> None:
        """After the RPC server started."""

    def periodic_tasks(self) -> list[PeriodicTask]:
        """(spacing seconds, coroutine function) pairs the service runs."""
        return []

    async def cleanup_host(self) -> None:
        """Cancel and await every task the manager owns."""
