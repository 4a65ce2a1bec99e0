"""ComputeManager: builds and operates instances on this host's hypervisor.

``build_and_run_instance`` hands the build to an owned task and returns; the
task takes the per-instance lock, then a build slot (``max_concurrent_builds``),
then claims resources and spawns. Every state save goes through the conductor.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import traceback
from collections.abc import Coroutine
from typing import Any

from aionova import exception, rpc
from aionova.compute.locks import KeyedLocks
from aionova.compute.power import PowerMixin
from aionova.compute.reboot import RebootMixin
from aionova.compute.rebuild import RebuildMixin
from aionova.compute.recovery import RecoveryMixin
from aionova.compute.resource_tracker import ResourceTracker
from aionova.compute.rpcapi import ComputeAPI
from aionova.conductor.rpcapi import ComputeTaskAPI, ConductorAPI
from aionova.config import Config
from aionova.context import RequestContext
from aionova.manager import Manager, PeriodicTask
from aionova.objects import ImageMeta, Instance, InstanceFault, RequestSpec
from aionova.states import power_state, task_states, vm_states
from aionova.versions import COMPUTE_RPC_VERSION
from aionova.virt.driver import ComputeDriver
from aionova.virt.fake import FakeDriver

LOG = logging.getLogger(__name__)
EVENT_BUILD = "compute__do_build_and_run_instance"
_DELETED = (exception.InstanceNotFound, exception.UnexpectedDeletingTaskStateError)


class ComputeManager(RecoveryMixin, RebootMixin, PowerMixin, RebuildMixin, Manager):
    """Target 4.x. ``rpc_version`` lets a test run an older compute (e.g. "4.0").

    Operations after boot live in mixins: reboot.py, power.py (stop/start/terminate),
    rebuild.py (rebuild and evacuate) and recovery.py (init_host).
    """

    service_name = "compute"

    def __init__(
        self,
        host: str,
        config: Config,
        transport: rpc.Transport,
        driver: ComputeDriver | None = None,
        *,
        rpc_version: str = COMPUTE_RPC_VERSION,
    ) -> None:
        super().__init__(host, config, transport, ConductorAPI(transport, config))
        self.target = rpc.Target(version=rpc_version)
        self.driver: ComputeDriver = driver or FakeDriver()
        self.rt = ResourceTracker(host, self.driver, self.store, config)
        self.compute_task_api = ComputeTaskAPI(transport, config)
        self.compute_rpcapi = ComputeAPI(transport, self.store, config)
        slots = config.DEFAULT.max_concurrent_builds
        self._build_semaphore = asyncio.Semaphore(slots if slots > 0 else 1_000_000)
        self.instance_locks = KeyedLocks()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- service hooks --------------------------------------------------------------
    async def pre_start_hook(self, ctxt: RequestContext) -> None:
        await self.update_available_resource(ctxt)

    def periodic_tasks(self) -> list[PeriodicTask]:
        return [(self.config.DEFAULT.update_resources_interval, self.update_available_resource)]

    async def update_available_resource(self, ctxt: RequestContext) -> None:
        """Periodic audit of this host's usage."""
        await self.rt.update_available_resource(ctxt)

    async def cleanup_host(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def builds_in_flight(self) -> int:
        return len(self._tasks)

    # -- RPC: build -------------------------------------------------------------------
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
        """Returns at once; the build runs in a task this manager owns."""
        self._spawn(
            self._locked_do_build_and_run_instance(
                ctxt, instance, image, request_spec, filter_properties or {}, node, limits
            )
        )

    async def _locked_do_build_and_run_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        node: str | None,
        limits: dict[str, Any] | None,
    ) -> None:
        async with self.instance_locks(instance.uuid), self._build_semaphore:
            try:
                await self._do_build_and_run_instance(
                    ctxt, instance, image, request_spec, filter_properties, node, limits
                )
            except Exception:
                LOG.exception("%s: build of %s failed unexpectedly", self.host, instance.uuid)

    async def _do_build_and_run_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        node: str | None,
        limits: dict[str, Any] | None,
    ) -> None:
        try:
            instance.vm_state, instance.task_state = vm_states.BUILDING, None
            await instance.save(expected_task_state=[task_states.SCHEDULING, None])
        except (*_DELETED, exception.UnexpectedTaskStateError):
            LOG.debug("instance %s deleted or taken before its build started", instance.uuid)
            return
        await self.store.action_event_start(ctxt, instance.uuid, EVENT_BUILD, self.host)
        result, tb = "Success", None
        try:
            await self._build_and_run_instance(ctxt, instance, image, limits, node)
        except exception.RescheduledException as exc:
            result, tb = "Error", traceback.format_exc()
            retry = filter_properties.get("retry")
            if not retry:
                await self._fail(ctxt, instance, exc, tb)
            else:
                await self._reschedule(ctxt, instance, image, request_spec, filter_properties, exc)
        except _DELETED:
            result, tb = "Error", traceback.format_exc()
        except Exception as exc:
            result, tb = "Error", traceback.format_exc()
            await self._fail(ctxt, instance, exc, tb)
        with contextlib.suppress(Exception):
            await self.store.action_event_finish(ctxt, instance.uuid, EVENT_BUILD, result, tb)

    async def _build_and_run_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        limits: dict[str, Any] | None,
        node: str | None,
    ) -> None:
        image_meta = image if isinstance(image, ImageMeta) else None
        try:
            async with await self.rt.instance_claim(ctxt, instance, node, limits):
                instance.task_state = task_states.NETWORKING
                await instance.save(expected_task_state=[None])
                instance.task_state = task_states.BLOCK_DEVICE_MAPPING
                await instance.save()
                instance.task_state = task_states.SPAWNING
                await instance.save(expected_task_state=task_states.BLOCK_DEVICE_MAPPING)
                await self._spawn_guest(instance, image_meta)
        except exception.ComputeResourcesUnavailable as exc:
            raise exception.RescheduledException(
                instance_uuid=instance.uuid, reason=exc.message
            ) from exc
        except (*_DELETED, exception.BuildAbortException):
            raise
        except Exception as exc:
            raise exception.RescheduledException(
                instance_uuid=instance.uuid, reason=str(exc)
            ) from exc
        instance.power_state = self._get_power_state(instance)
        instance.vm_state, instance.task_state = vm_states.ACTIVE, None
        instance.launched_at = dt.datetime.now(dt.UTC)
        await instance.save(expected_task_state=task_states.SPAWNING)

    async def _spawn_guest(self, instance: Instance, image_meta: ImageMeta | None) -> None:
        """driver.spawn bounded by instance_build_timeout; a failed guest is cleaned up."""
        timeout = self.config.DEFAULT.instance_build_timeout or None
        try:
            async with asyncio.timeout(timeout):
                await self.driver.spawn(instance, image_meta)
        except TimeoutError as exc:
            await self._destroy_quietly(instance)
            raise exception.BuildAbortException(
                instance_uuid=instance.uuid, reason=f"spawn took longer than {timeout}s"
            ) from exc
        except Exception:
            await self._destroy_quietly(instance)
            raise

    async def _destroy_quietly(self, instance: Instance) -> None:
        with contextlib.suppress(Exception):
            await self.driver.destroy(instance)

    def _get_power_state(self, instance: Instance) -> int:
        try:
            return self.driver.get_info(instance).state
        except exception.InstanceNotFound:
            return power_state.NOSTATE

    async def _reschedule(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        exc: exception.RescheduledException,
    ) -> None:
        """Back to SCHEDULING, untagged, and a new build_instances through the conductor."""
        filter_properties["retry"]["exc_reason"] = exc.message
        instance.host = instance.node = instance.launched_on = None
        instance.task_state = task_states.SCHEDULING
        try:
            await instance.save()
        except _DELETED:
            return
        await self.compute_task_api.build_instances(
            ctxt, [instance], image, filter_properties, request_spec=request_spec
        )

    async def _fail(
        self, ctxt: RequestContext, instance: Instance, exc: Exception, tb: str | None
    ) -> None:
        """Fault recorded, host/node cleared, ERROR with task None."""
        with contextlib.suppress(Exception):
            code = getattr(exc, "kwargs", {}).get("code", 500)
            await self.store.instance_fault_create(
                ctxt,
                InstanceFault(
                    instance_uuid=instance.uuid,
                    code=code,
                    message=str(exc),
                    details=tb or "",
                    host=self.host,
                ),
            )
        instance.host = instance.node = instance.launched_on = None
        instance.vm_state, instance.task_state = vm_states.ERROR, None
        with contextlib.suppress(*_DELETED):
            await instance.save()
