"""AllInOne: a whole control plane in one process (conductor, scheduler, N computes, API).

The embedded default is a real deployment: the same services and code paths
as across machines, on one transport URL (``memory://<name>`` by default) and
one SQLite file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from aionova import messaging, rpc
from aionova.api.compute import API
from aionova.compute.manager import ComputeManager
from aionova.conductor.manager import ConductorManager
from aionova.config import Config
from aionova.db import Database
from aionova.notifications.settings import with_control_exchange
from aionova.scheduler.manager import SchedulerManager
from aionova.service import Service
from aionova.versions import COMPUTE_RPC_VERSION, SERVICE_VERSION
from aionova.virt.driver import ComputeDriver
from aionova.virt.fake import FakeDriver

DriverFactory = Callable[[str], ComputeDriver]


class AllInOne:
    """Start with ``async with AllInOne(config, db_path) as cloud:``; add computes any time.

    ``db_path`` is a file or a database URL (``postgresql://…``).
    """

    def __init__(
        self, config: Config, db_path: str | Path, *, transport_url: str | None = None
    ) -> None:
        self.config = config
        # One engine: the API's view fails fast, the services' view retries (db/retrying.py).
        self.db = Database(db_path, config.database)
        self.service_db = self.db.retrying()
        url = transport_url or f"memory://aionova-{uuid.uuid4().hex[:8]}"
        self.url = with_control_exchange(url, config.DEFAULT.control_exchange)
        self.transport: rpc.Transport | None = None
        self.conductor: Service | None = None
        self.scheduler: Service | None = None
        self.computes: dict[str, Service] = {}
        self.api: API | None = None

    async def start(self) -> AllInOne:
        await self.db.open()
        self.transport = messaging.get_transport(self.url)
        host = self.config.DEFAULT.host
        self.conductor = Service(
            "nova-conductor",
            "conductor",
            host,
            ConductorManager(host, self.config, self.transport, self.service_db),
        )
        self.scheduler = Service(
            "nova-scheduler",
            "scheduler",
            host,
            SchedulerManager(host, self.config, self.transport, self.service_db),
        )
        await self.conductor.start()
        await self.scheduler.start()
        self.api = API(self.db, self.transport, self.config)
        if self.config.notifications.notify_on_state_change:
            # Both views save instances: the API's own saves and the computes' (through
            # the conductor's view).
            self.db.on_instance_update = self.api.notifier.instance_saved
            self.service_db.on_instance_update = self.api.notifier.instance_saved
        return self

    async def add_compute(
        self,
        host: str,
        driver: ComputeDriver | None = None,
        *,
        service_version: int = SERVICE_VERSION,
        rpc_version: str = COMPUTE_RPC_VERSION,
        config: Config | None = None,
    ) -> Service:
        """Start a compute service on ``host`` (a FakeDriver unless one is given)."""
        assert self.transport is not None, "start() first"
        manager = ComputeManager(
            host,
            config or self.config,
            self.transport,
            driver or FakeDriver(),
            rpc_version=rpc_version,
        )
        service = Service("nova-compute", "compute", host, manager, version=service_version)
        await service.start()
        self.computes[host] = service
        return service

    def driver(self, host: str) -> FakeDriver:
        """The fake driver of a compute (for fault injection in tests)."""
        manager = self.computes[host].manager
        assert isinstance(manager, ComputeManager)
        driver = manager.driver
        assert isinstance(driver, FakeDriver)
        return driver

    async def stop(self) -> None:
        """Computes first (their builds need the conductor), then scheduler and conductor."""
        for service in list(self.computes.values()):
            await service.stop()
        self.computes.clear()
        for control in (self.scheduler, self.conductor):
            if control is not None:
                await control.stop()
        if self.api is not None:
            await self.api.notifier.stop()
        if self.transport is not None:
            await self.transport.close()
        await self.db.close()

    async def __aenter__(self) -> AllInOne:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
