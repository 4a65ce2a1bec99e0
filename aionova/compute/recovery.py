"""init_host: crash recovery before any message is consumed (spec §5.6, §6)."""

from __future__ import annotations

import contextlib
import logging

from aionova import exception
from aionova.compute.host import ComputeHost, Part
from aionova.compute.power import Power
from aionova.compute.reboot import Reboot
from aionova.context import RequestContext, get_admin_context
from aionova.objects import Instance, Service
from aionova.states import power_state, task_states, vm_states
from aionova.utils import best_effort

LOG = logging.getLogger(__name__)
CLEANUP_STATUSES = ["accepted", "pre-migrating", "done"]
_BUILD_TASKS = (
    task_states.SCHEDULING,
    task_states.BLOCK_DEVICE_MAPPING,
    task_states.NETWORKING,
    task_states.SPAWNING,
)
_CLEAR_IF_RUNNING = (
    task_states.REBOOT_STARTED,
    task_states.REBOOT_STARTED_HARD,
    task_states.REBOOTING_HARD,
    task_states.REBOOTING,
    task_states.PAUSING,
    task_states.UNPAUSING,
)
_RETRY_IF_NOT_RUNNING = (
    task_states.REBOOTING,
    task_states.REBOOTING_HARD,
    task_states.REBOOT_STARTED,
    task_states.REBOOT_STARTED_HARD,
)


class Recovery(Part):
    """``init_host``: evacuated guests destroyed first, then every instance re-initialised,
    then builds sent here but never claimed are errored out. It finishes interrupted
    work through the parts that do it (reboot, power)."""

    def __init__(self, parts: ComputeHost, reboot: Reboot, power: Power) -> None:
        super().__init__(parts)
        self.reboot, self.power = reboot, power

    async def init_host(self, service_ref: Service | None) -> None:
        """Recover this host's instances (the Service starts the RPC server only afterwards)."""
        await self.driver.init_host(self.host)
        if service_ref is None and self.driver.list_instance_uuids():
            raise exception.InvalidConfiguration(
                reason=f"new compute service on {self.host} but the hypervisor has guests"
            )
        ctxt = get_admin_context()
        instances = await self.store.instance_get_all_by_host(ctxt, self.host)
        evacuated = await self._destroy_evacuated_instances(ctxt)
        for instance in instances:
            if instance.uuid in evacuated:
                continue
            try:
                await self._init_instance(ctxt, instance)
            except Exception:
                LOG.exception("%s: recovering instance %s failed", self.host, instance.uuid)
        handled = evacuated | {i.uuid for i in instances}
        try:
            await self._error_out_instances_whose_build_was_interrupted(ctxt, handled)
        except Exception:
            LOG.exception("%s: erroring out interrupted builds failed", self.host)

    async def _error_out_instances_whose_build_was_interrupted(
        self, ctxt: RequestContext, handled: set[str]
    ) -> None:
        """Step 7: BUILDING instances sent to one of this host's nodes (the conductor's
        build selection, Nova's placement allocations) whose claim never set ``host``:
        ERROR with task None. The save expects the state read, so a build that another
        compute claims meanwhile is not touched."""
        nodes = self.driver.get_available_nodes()
        unclaimed = await self.store.instance_get_unclaimed_builds(ctxt, self.host, nodes)
        for instance in unclaimed:
            if instance.uuid in handled or instance.vm_state != vm_states.BUILDING:
                continue
            LOG.info(
                "%s: build of %s was interrupted before its claim, setting ERROR",
                self.host,
                instance.uuid,
            )
            expected_task = instance.task_state
            instance.vm_state, instance.task_state = vm_states.ERROR, None
            try:
                await instance.save(
                    expected_task_state=[expected_task], expected_vm_state=[vm_states.BUILDING]
                )
            except (exception.InstanceNotFound, exception.InstanceUpdateConflict) as exc:
                LOG.info("%s: %s changed meanwhile, left alone: %s", self.host, instance.uuid, exc)

    async def _destroy_evacuated_instances(self, ctxt: RequestContext) -> set[str]:
        """Guests evacuated elsewhere are destroyed here; their migrations become completed."""
        filters = {
            "source_compute": self.host,
            "status": CLEANUP_STATUSES,
            "migration_type": "evacuation",
        }
        migrations = await self.store.migration_get_all(ctxt, filters)
        local = set(self.driver.list_instance_uuids())
        done: set[str] = set()
        for migration in migrations:
            uuid = migration.instance_uuid
            if uuid in local:
                try:
                    instance = await self.store.instance_get(ctxt, uuid)
                except exception.InstanceNotFound:
                    instance = Instance(uuid=uuid)
                # The fake driver cannot test shared storage: treated as not shared.
                LOG.info("%s: destroying evacuated guest %s", self.host, uuid)
                await self.driver.destroy(instance, destroy_disks=True)
                local.discard(uuid)
            # The source half of the evacuation's allocations (§5.6 step 3).
            await self.store.allocation_delete(ctxt, uuid, self.host)
            migration.status = "completed"
            await migration.save()
            done.add(uuid)
        return done

    async def _init_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        """One row of the spec's §6.2 table, evaluated top to bottom."""
        vm, task = instance.vm_state, instance.task_state
        if instance.host != self.host:
            LOG.warning("%s: instance %s is not owned by this host", self.host, instance.uuid)
            return
        if vm == vm_states.SOFT_DELETED or (vm == vm_states.ERROR and task != task_states.DELETING):
            return
        if vm == vm_states.DELETED:
            what = f"{self.host}: finishing the delete of {instance.uuid}"
            await best_effort(what, self.power.delete_instance(ctxt, instance), logger=LOG)
            return
        if vm == vm_states.BUILDING or task in _BUILD_TASKS:
            await self._set_error(instance)
            return
        if vm in (vm_states.ACTIVE, vm_states.STOPPED) and task in task_states.rebuild_states:
            await self._set_error(instance)
            return
        if task == task_states.DELETING:
            try:
                await self.power.delete_instance(ctxt, instance)
            except Exception:
                LOG.exception("%s: finishing the delete of %s failed", self.host, instance.uuid)
                await self._set_error(instance)
            return
        if await self._recover_reboot(ctxt, instance):
            return
        if task == task_states.POWERING_OFF:
            what = f"{self.host}: finishing the stop of {instance.uuid}"
            await best_effort(what, self.power.stop_instance(ctxt, instance, True), logger=LOG)
            return
        if task == task_states.POWERING_ON:
            what = f"{self.host}: finishing the start of {instance.uuid}"
            await best_effort(what, self.power.start_instance(ctxt, instance), logger=LOG)
            return
        await self._resume_guest_state(instance)

    async def _resume_guest_state(self, instance: Instance) -> None:
        """Row Q: the DB says RUNNING but the guest is not (the host rebooted): with
        ``resume_guests_state_on_host_boot`` the driver brings it back; failure: ERROR."""
        db_state, drv_state = instance.power_state, self.parts.power_state(instance)
        if db_state != power_state.RUNNING or drv_state == db_state:
            return
        if not self.parts.config.DEFAULT.resume_guests_state_on_host_boot:
            return
        LOG.info("%s: resuming %s after the compute restart", self.host, instance.uuid)
        try:
            await self.driver.resume_state_on_host_boot(instance)
        except NotImplementedError:
            LOG.warning("%s: the driver cannot resume guests (%s)", self.host, instance.uuid)
        except Exception:
            LOG.warning("%s: resuming %s failed", self.host, instance.uuid, exc_info=True)
            await self._set_error(instance)

    async def _recover_reboot(self, ctxt: RequestContext, instance: Instance) -> bool:
        """Rows I-K: retry an interrupted reboot, or clear it when the guest runs."""
        vm, task = instance.vm_state, instance.task_state
        current = self.parts.power_state(instance)
        if current != power_state.RUNNING:
            reboot_type = "HARD"
        elif task in task_states.soft_reboot_states:
            reboot_type = "SOFT"
        else:
            reboot_type = "HARD"
        retry = (
            (task == task_states.REBOOT_PENDING and vm in vm_states.ALLOW_SOFT_REBOOT)
            or (task == task_states.REBOOT_PENDING_HARD and vm in vm_states.ALLOW_HARD_REBOOT)
            or (task in _RETRY_IF_NOT_RUNNING and current != power_state.RUNNING)
        )
        if retry:
            if task in task_states.soft_reboot_states and reboot_type == "HARD":
                instance.task_state = task_states.REBOOT_PENDING_HARD
                await instance.save()
            await self.reboot.reboot_instance(ctxt, instance, None, reboot_type)
            return True
        if current == power_state.RUNNING and task in _CLEAR_IF_RUNNING:
            instance.vm_state, instance.task_state = vm_states.ACTIVE, None
            await instance.save()
        return False

    async def _set_error(self, instance: Instance) -> None:
        instance.vm_state, instance.task_state = vm_states.ERROR, None
        with contextlib.suppress(exception.InstanceNotFound):
            await instance.save()
