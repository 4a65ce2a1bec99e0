"""Rebuild (same host, new image) and evacuate (``recreate=True``) on the compute (§5.4)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from aionova import exception
from aionova.compute.host import Part
from aionova.compute.wrappers import (
    DELETED,
    error_out_instance_on_exception,
    reverts_task_state,
    set_migration_status,
    wrap_exception,
    wrap_instance_event,
    wrap_instance_fault,
)
from aionova.context import RequestContext
from aionova.notifications.legacy import image_meta
from aionova.objects import Instance, Migration
from aionova.states import task_states, vm_states
from aionova.utils import best_effort

LOG = logging.getLogger(__name__)


class Rebuild(Part):
    """``rebuild_instance`` (4.5; a 4.0 message lacks migration, scheduled_node, limits).

    No per-instance lock (as in Nova): exclusivity comes from the API's REBUILDING
    and the expected-task-state saves.
    """

    @wrap_exception
    @reverts_task_state
    @wrap_instance_event(prefix="compute")
    @wrap_instance_fault
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
        """Claim (evacuate), re-create the guest, then (evacuate) move host/node here.
        Notified: ``exists`` and ``rebuild.start`` before, ``rebuild.end`` after, or
        ``rebuild.error`` (and, when it propagates, ``compute.exception``)."""
        orig_vm_state = instance.vm_state
        if recreate and not scheduled_node:
            scheduled_node = await self._local_node(ctxt, instance, migration)
        orig_image = orig_image_ref or instance.image_ref
        try:
            async with error_out_instance_on_exception(instance, orig_vm_state):
                await self._rebuild_with_claim(
                    ctxt,
                    instance,
                    orig_image,
                    recreate,
                    on_shared_storage,
                    migration,
                    scheduled_node,
                    limits,
                )
        except DELETED as exc:
            LOG.debug("%s: %s deleted during rebuild", self.host, instance.uuid)
            await set_migration_status(migration, "failed")
            self.notifier.instance(ctxt, instance, "rebuild", "error", exception=exc)
        except Exception as exc:
            await set_migration_status(migration, "failed")
            self.notifier.instance(ctxt, instance, "rebuild", "error", exception=exc)
            raise

    async def _local_node(
        self, ctxt: RequestContext, instance: Instance, migration: Migration | None
    ) -> str:
        """The node an evacuation lands on when the conductor named none."""
        nodes = self.driver.get_available_nodes()
        if nodes:
            return nodes[0]
        await set_migration_status(migration, "failed")
        abort = exception.BuildAbortException(
            instance_uuid=instance.uuid, reason="no compute node on this host"
        )
        self.notifier.instance(ctxt, instance, "rebuild", "error", exception=abort)
        raise abort

    async def _rebuild_with_claim(
        self,
        ctxt: RequestContext,
        instance: Instance,
        orig_image: str | None,
        recreate: bool,
        on_shared_storage: bool | None,
        migration: Migration | None,
        node: str | None,
        limits: dict[str, Any] | None,
    ) -> None:
        if not recreate:  # same host: a NopClaim
            await self._do_rebuild_instance(ctxt, instance, orig_image, recreate, on_shared_storage)
            return
        assert node is not None
        try:
            migration = await self.parts.rt.rebuild_claim(ctxt, instance, node, limits, migration)
        except exception.ComputeResourcesUnavailable as exc:
            await set_migration_status(migration, "failed")
            await self._release(ctxt, instance)
            inner = exception.BuildAbortException(instance_uuid=instance.uuid, reason=exc.message)
            raise exception.InstanceFaultRollback(inner) from exc
        try:
            await self._do_rebuild_instance(ctxt, instance, orig_image, recreate, on_shared_storage)
        except Exception:
            await self.parts.rt.drop_move_claim(ctxt, instance)
            await set_migration_status(migration, "failed")
            await self._release(ctxt, instance)
            raise
        await self.parts.rt.finish_evacuation(ctxt, instance, node, migration)

    async def _release(self, ctxt: RequestContext, instance: Instance) -> None:
        """A failed evacuation gives back what the scheduler claimed on this host."""
        release = self.store.allocation_delete(ctxt, instance.uuid, self.host)
        await best_effort(f"{self.host}: releasing {instance.uuid}", release, logger=LOG)

    def _check_evacuation(self, instance: Instance, on_shared_storage: bool | None) -> bool:
        """Driver support, no guest here yet, shared storage agreed; returns shared or not."""
        if not getattr(self.driver, "supports_evacuate", False):
            raise exception.InstanceEvacuateNotSupported()
        if instance.uuid in self.driver.list_instance_uuids():
            raise exception.InstanceExists(name=instance.uuid)
        on_disk = self.driver.instance_on_disk(instance)
        if on_shared_storage is None:
            return on_disk
        if on_shared_storage != on_disk:
            reason = "the driver says the instance disks are " + ("" if on_disk else "not ")
            raise exception.InvalidSharedStorage(path=self.host, reason=reason + "shared")
        return on_shared_storage

    async def _do_rebuild_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        orig_image: str | None,
        recreate: bool,
        on_shared_storage: bool | None,
    ) -> None:
        """REBUILDING -> REBUILD_BLOCK_DEVICE_MAPPING -> REBUILD_SPAWNING -> ACTIVE (-> STOPPED)."""
        orig_vm_state = instance.vm_state
        if recreate:
            shared = self._check_evacuation(instance, on_shared_storage)
            LOG.info("%s: evacuating %s (shared storage: %s)", self.host, instance.uuid, shared)
        # exists: with the image the instance had (the API already wrote the new one)
        self.notifier.usage_exists(ctxt, instance, image_ref_url=orig_image)
        extra = {"image_name": image_meta(instance.system_metadata).get("name", "")}
        self.notifier.instance(ctxt, instance, "rebuild", "start", extra=extra)
        instance.power_state = self.parts.power_state(instance)
        instance.task_state = task_states.REBUILDING
        await instance.save(expected_task_state=[task_states.REBUILDING])
        instance.task_state = task_states.REBUILD_BLOCK_DEVICE_MAPPING
        await instance.save(expected_task_state=[task_states.REBUILDING])
        instance.task_state = task_states.REBUILD_SPAWNING
        await instance.save(expected_task_state=[task_states.REBUILD_BLOCK_DEVICE_MAPPING])
        if recreate:
            await self.driver.spawn(instance, None)
        else:
            await self.driver.rebuild(instance, None)
        instance.power_state = self.parts.power_state(instance)
        instance.vm_state, instance.task_state = vm_states.ACTIVE, None
        instance.launched_at = dt.datetime.now(dt.UTC)
        await instance.save(expected_task_state=[task_states.REBUILD_SPAWNING])
        if orig_vm_state == vm_states.STOPPED:
            await self._stop_again(ctxt, instance)
        self.notifier.instance(ctxt, instance, "rebuild", "end", extra=extra)

    async def _stop_again(self, ctxt: RequestContext, instance: Instance) -> None:
        """Back to STOPPED, as it was (Nova runs its stop_instance: power_off notified)."""
        instance.task_state = task_states.POWERING_OFF
        await instance.save()
        self.notifier.instance(ctxt, instance, "power_off", "start")
        await self.driver.power_off(instance)
        instance.power_state = self.parts.power_state(instance)
        instance.vm_state, instance.task_state = vm_states.STOPPED, None
        await instance.save(expected_task_state=[task_states.POWERING_OFF])
        self.notifier.instance(ctxt, instance, "power_off", "end")
