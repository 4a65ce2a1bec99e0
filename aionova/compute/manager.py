"""ComputeManager: builds and operates instances on this host's hypervisor.

The manager is the RPC endpoint (compute API 4.x) and the service's hooks; the work is
done by parts it composes, each owning one job on the shared ``ComputeHost``:
``Build`` (build.py), ``Reboot`` (reboot.py), ``Power`` (power.py: stop, start,
terminate), ``Rebuild`` (rebuild.py: rebuild and evacuate) and ``Recovery``
(recovery.py: init_host). The virt driver is chosen where the service is wired
(aionova/cmd, deployment.py) and passed in. Every state save goes through the
conductor: a compute host holds no database.
"""

from __future__ import annotations

from typing import Any

from aionova import rpc
from aionova.compute.build import Build
from aionova.compute.host import ComputeHost
from aionova.compute.locks import KeyedLocks
from aionova.compute.power import Power
from aionova.compute.reboot import Reboot
from aionova.compute.rebuild import Rebuild
from aionova.compute.recovery import Recovery
from aionova.compute.resource_tracker import ResourceTracker
from aionova.compute.rpcapi import ComputeAPI
from aionova.conductor.rpcapi import ComputeTaskAPI, conductor_store
from aionova.config import Config
from aionova.context import RequestContext
from aionova.manager import Manager, PeriodicTask
from aionova.objects import Instance, Migration, RequestSpec, Service
from aionova.versions import COMPUTE_RPC_VERSION
from aionova.virt.driver import ComputeDriver


class ComputeManager(Manager):
    """Target 4.x. ``rpc_version`` lets a test run an older compute (e.g. "4.0")."""

    service_name = "compute"

    def __init__(
        self,
        host: str,
        config: Config,
        transport: rpc.Transport,
        driver: ComputeDriver,
        *,
        rpc_version: str = COMPUTE_RPC_VERSION,
    ) -> None:
        store = conductor_store(transport, config)
        super().__init__(host, config, transport, store)
        self.target = rpc.Target(version=rpc_version)
        self.driver = driver
        self.rt = ResourceTracker(host, driver, store, config)
        self.instance_locks = KeyedLocks()
        self.compute_rpcapi = ComputeAPI(transport, store, config)
        parts = ComputeHost(
            host, config, store, driver, self.rt, self.instance_locks, self.notifier
        )
        self.builds = Build(parts, ComputeTaskAPI(transport, config))
        self.reboots = Reboot(parts)
        self.power = Power(parts)
        self.rebuilds = Rebuild(parts)
        self.recovery = Recovery(parts, self.reboots, self.power)

    # -- service hooks --------------------------------------------------------------
    async def init_host(self, service_ref: Service | None) -> None:
        """Recover this host's instances before any message is consumed."""
        await self.recovery.init_host(service_ref)

    async def pre_start_hook(self, ctxt: RequestContext) -> None:
        await self.update_available_resource(ctxt)

    def periodic_tasks(self) -> list[PeriodicTask]:
        return [(self.config.DEFAULT.update_resources_interval, self.update_available_resource)]

    async def update_available_resource(self, ctxt: RequestContext) -> None:
        """Periodic audit of this host's usage."""
        await self.rt.update_available_resource(ctxt)

    async def cleanup_host(self) -> None:
        await self.builds.cancel()

    @property
    def builds_in_flight(self) -> int:
        return self.builds.in_flight

    # -- RPC (compute API 4.x) ---------------------------------------------------------
    async def build_and_run_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        admin_password: str | None = None,
        injected_files: list[Any] | None = None,
        requested_networks: Any = None,
        security_groups: list[str] | None = None,
        block_device_mapping: list[Any] | None = None,
        node: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> None:
        """Returns at once; the build runs in a task the build part owns."""
        self.builds.start(
            ctxt, instance, image, request_spec, filter_properties or {}, node, limits
        )

    async def reboot_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        block_device_info: Any = None,
        reboot_type: str = "SOFT",
    ) -> None:
        await self.reboots.reboot_instance(ctxt, instance, block_device_info, reboot_type)

    async def stop_instance(
        self, ctxt: RequestContext, instance: Instance, clean_shutdown: bool = True
    ) -> None:
        await self.power.stop_instance(ctxt, instance, clean_shutdown)

    async def start_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        await self.power.start_instance(ctxt, instance)

    async def terminate_instance(
        self, ctxt: RequestContext, instance: Instance, bdms: list[Any] | None = None
    ) -> None:
        await self.power.terminate_instance(ctxt, instance, bdms)

    async def rebuild_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        orig_image_ref: str | None,
        image_ref: str | None,
        injected_files: list[Any] | None,
        new_pass: str | None,
        orig_sys_metadata: dict[str, Any] | None,
        bdms: list[Any] | None,
        recreate: bool,
        on_shared_storage: bool | None,
        preserve_ephemeral: bool = False,
        migration: Migration | None = None,
        scheduled_node: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> None:
        await self.rebuilds.rebuild_instance(
            ctxt,
            instance,
            orig_image_ref,
            image_ref,
            injected_files,
            new_pass,
            orig_sys_metadata,
            bdms,
            recreate,
            on_shared_storage,
            preserve_ephemeral=preserve_ephemeral,
            migration=migration,
            scheduled_node=scheduled_node,
            limits=limits,
        )
