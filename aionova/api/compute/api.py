"""The compute API: what the REST layer calls. It runs in the API process, on the shared
database: validates, writes (compare-and-swap saves), records actions and casts to the
conductor (``compute_task``) or to the instance's compute."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aionova import exception, messaging, rpc
from aionova.api.compute import specs
from aionova.api.compute.checks import (
    check_image_fits,
    check_instance_host,
    check_instance_lock,
    check_instance_state,
)
from aionova.compute.rpcapi import ComputeAPI
from aionova.conductor.rpcapi import ComputeTaskAPI
from aionova.config import Config
from aionova.context import RequestContext
from aionova.objects import (
    Destination,
    Instance,
    InstanceAction,
    InstanceFault,
    Migration,
    RequestSpec,
)
from aionova.objects.store import ObjectStore
from aionova.servicegroup import ServiceGroupAPI
from aionova.states import task_states, vm_states

COMPUTE_BINARY = "nova-compute"
_EVACUABLE = (vm_states.ACTIVE, vm_states.STOPPED, vm_states.ERROR)


class API:
    """Compute API on the shared database, the conductor's compute_task client and the
    compute client. Each operation after boot checks Nova's preconditions (lock, host,
    vm_state/task_state), writes the task_state, records the instance action and casts."""

    def __init__(self, db: ObjectStore, transport: rpc.Transport, config: Config) -> None:
        self.db, self.config = db, config
        self.compute_task_api = ComputeTaskAPI(transport, config)
        self.compute_rpcapi = ComputeAPI(transport, db, config)
        d = config.DEFAULT
        self.servicegroup = ServiceGroupAPI(d.report_interval, d.service_down_time)
        # What Nova's API emits itself (evacuate, a delete done here); stop() it at the end.
        self.notifier = messaging.get_notifier(config, transport, host=d.host, binary="nova-api")

    # -- boot and reads ---------------------------------------------------------------
    async def create(
        self,
        ctxt: RequestContext,
        flavor_id: str,
        image_ref: str | None,
        *,
        name: str = "",
        min_count: int = 1,
        max_count: int | None = None,
        availability_zone: str | None = None,
        metadata: dict[str, str] | None = None,
        admin_password: str | None = None,
        requested_host: str | None = None,
    ) -> tuple[list[Instance], str]:
        """Create instances (BUILDING / scheduling), action ``create``, and cast the build."""
        flavor, image = await self.db.flavor_and_image_get(ctxt, flavor_id, image_ref or None)
        check_image_fits(flavor, image)
        count = max(min_count, max_count or min_count)
        spec = specs.boot_request(ctxt, flavor, image, count, availability_zone, requested_host)
        instances = []
        for instance in specs.new_instances(ctxt, spec, image_ref, name, metadata):
            # The row, its ``create`` action and its request spec: one transaction.
            spec.instance_uuid = instance.uuid
            instances.append(
                await self.db.instance_create(ctxt, instance, action="create", spec=spec)
            )
        spec.instance_uuid = instances[0].uuid
        await self.compute_task_api.build_instances(
            ctxt,
            instances,
            image,
            {},
            admin_password=admin_password,
            security_groups=["default"],
            legacy_bdm=False,
            request_spec=spec,
        )
        return instances, instances[0].reservation_id or ""

    async def get(self, ctxt: RequestContext, uuid: str) -> Instance:
        """One instance (``InstanceNotFound`` otherwise)."""
        return await self.db.instance_get(ctxt, uuid)

    async def update_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        *,
        display_name: str | None = None,
        system_metadata: dict[str, str | None] | None = None,
    ) -> Instance:
        """Nova's ``update_instance`` (PUT /servers/{id}): a new name and/or entries of
        ``system_metadata`` (description, access IPs, disk config; a None value removes
        the entry), written as one row update. No state check: renaming is allowed in
        any state, as in Nova. Returns the saved instance."""
        if display_name is not None:
            instance.display_name = display_name
        if system_metadata:
            merged = dict(instance.system_metadata)  # a new dict, so the change is tracked
            for key, value in system_metadata.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            instance.system_metadata = merged
        await instance.save()
        return instance

    async def get_all(
        self, ctxt: RequestContext, filters: dict[str, Any] | None = None
    ) -> list[Instance]:
        """Instances matching column filters (project-scoped for non-admins)."""
        filters = dict(filters or {})
        if not ctxt.is_admin and ctxt.project_id is not None:
            filters["project_id"] = ctxt.project_id
        return await self.db.instance_get_all(ctxt, filters)

    async def get_fault(self, ctxt: RequestContext, instance: Instance) -> InstanceFault | None:
        """The fault shown as ``server.fault`` (only for ERROR/DELETED instances)."""
        if instance.vm_state not in (vm_states.ERROR, vm_states.DELETED):
            return None
        return await self.db.instance_fault_get_latest(ctxt, instance.uuid)

    async def actions_get(self, ctxt: RequestContext, instance: Instance) -> list[InstanceAction]:
        """Every action of an instance with its events, oldest first."""
        return await self.db.actions_get(ctxt, instance.uuid)

    async def action_get_by_request_id(
        self, ctxt: RequestContext, instance: Instance, request_id: str
    ) -> InstanceAction:
        """One action (``NotFound`` otherwise)."""
        return await self.db.action_get_by_request_id(ctxt, instance.uuid, request_id)

    async def migration_get_all(
        self, ctxt: RequestContext, filters: dict[str, Any] | None = None
    ) -> list[Migration]:
        """Migrations (see ``HostAPI.migration_get_all``)."""
        return await self.db.migration_get_all(ctxt, filters)

    # -- reboot -------------------------------------------------------------------------
    @check_instance_lock
    async def reboot(self, ctxt: RequestContext, instance: Instance, reboot_type: str) -> None:
        """'SOFT' (ACTIVE, idle) or 'HARD' (ACTIVE/STOPPED/PAUSED/SUSPENDED/ERROR, task in
        ALLOW_REBOOT: pre-empts a reboot in progress)."""
        kind = (reboot_type or "").upper()
        if kind == "SOFT":
            await self._soft_reboot(ctxt, instance)
        elif kind == "HARD":
            await self._hard_reboot(ctxt, instance)
        else:
            raise exception.InvalidRequest(reason=f"invalid reboot type {reboot_type!r}")

    @check_instance_state(vm_state=vm_states.ALLOW_SOFT_REBOOT, task_state=[None])
    async def _soft_reboot(self, ctxt: RequestContext, instance: Instance) -> None:
        instance.task_state = task_states.REBOOTING
        await instance.save(expected_task_state=[None])
        await self.db.action_start(ctxt, instance.uuid, "reboot")
        await self.compute_rpcapi.reboot_instance(ctxt, instance, None, "SOFT")

    @check_instance_state(vm_state=vm_states.ALLOW_HARD_REBOOT, task_state=task_states.ALLOW_REBOOT)
    async def _hard_reboot(self, ctxt: RequestContext, instance: Instance) -> None:
        instance.task_state = task_states.REBOOTING_HARD
        await instance.save(expected_task_state=task_states.ALLOW_REBOOT)
        await self.db.action_start(ctxt, instance.uuid, "reboot")
        await self.compute_rpcapi.reboot_instance(ctxt, instance, None, "HARD")

    # -- rebuild and evacuate -------------------------------------------------------------
    @check_instance_lock
    @check_instance_state(vm_state=_EVACUABLE)
    async def rebuild(
        self,
        ctxt: RequestContext,
        instance: Instance,
        /,
        image_href: str,
        admin_password: str | None = None,
        **kwargs: Any,
    ) -> Instance:
        """Same host, new image. kwargs: ``name``, ``metadata``, ``preserve_ephemeral``."""
        image = await self.db.image_get(ctxt, image_href)
        assert instance.flavor is not None
        check_image_fits(instance.flavor, image)
        orig_image_ref = instance.image_ref
        if "name" in kwargs:
            instance.display_name = kwargs["name"]
        if kwargs.get("metadata") is not None:
            instance.metadata = dict(kwargs["metadata"])
        instance.image_ref = image_href
        instance.task_state = task_states.REBUILDING
        instance.progress = 0
        await instance.save(expected_task_state=[None])
        await self.db.action_start(ctxt, instance.uuid, "rebuild")
        host: str | None = instance.host
        spec: RequestSpec | None = None
        if image_href != orig_image_ref:  # host=None: the conductor asks the scheduler
            spec = await specs.rebuild_check_request(self.db, ctxt, instance, image)
            host = None
        await self.compute_task_api.rebuild_instance(
            ctxt,
            instance,
            admin_password,
            None,
            image_href,
            orig_image_ref,
            None,
            None,
            recreate=False,
            on_shared_storage=None,
            preserve_ephemeral=bool(kwargs.get("preserve_ephemeral", False)),
            host=host,
            request_spec=spec,
        )
        return instance

    @check_instance_state(vm_state=_EVACUABLE, task_state=None)
    async def evacuate(
        self,
        ctxt: RequestContext,
        instance: Instance,
        host: str | None = None,
        on_shared_storage: bool | None = None,
        admin_password: str | None = None,
        force: bool | None = None,
    ) -> Migration:
        """Re-create the instance elsewhere; its compute must be down. Returns the Migration.

        ``force=True`` needs a host and bypasses the scheduler; a host without force is
        only a requested destination the scheduler must accept.
        """
        await self._check_evacuation(ctxt, instance, host, force)
        instance.task_state = task_states.REBUILDING
        await instance.save()  # no expectation (2023.1+)
        await self.db.action_start(ctxt, instance.uuid, "evacuate")
        migration = await self.db.migration_create(ctxt, specs.evacuation(instance, host))
        self.notifier.instance(ctxt, instance, "evacuate", source="nova-api")
        await self.notifier.handoff()  # out before the conductor's and compute's events
        spec = await specs.request_spec_of(self.db, ctxt, instance)
        if host is not None and not force:
            nodes = await self.db.compute_node_get_all_by_host(ctxt, host)
            node = nodes[0].hypervisor_hostname if nodes else None
            spec.requested_destination = Destination(host=host, node=node)
            host = None
        await self.compute_task_api.rebuild_instance(
            ctxt,
            instance,
            admin_password,
            None,
            None,
            None,
            None,
            None,
            recreate=True,
            on_shared_storage=on_shared_storage,
            host=host,
            request_spec=spec,
        )
        return migration

    async def _check_evacuation(
        self, ctxt: RequestContext, instance: Instance, host: str | None, force: bool | None
    ) -> None:
        """A known destination other than the source; the source's compute is down."""
        if force and not host:
            raise exception.InvalidRequest(reason="Can't force to a non-provided destination")
        if host is not None:
            if await self.db.service_get_by_host_and_binary(ctxt, host, COMPUTE_BINARY) is None:
                raise exception.ComputeHostNotFound(host=host)
            if host == instance.host:
                raise exception.InvalidRequest(reason="The target host can't be the same one.")
        source = await self.db.service_get_by_host_and_binary(
            ctxt, instance.host or "", COMPUTE_BINARY
        )
        if source is None:
            raise exception.ComputeHostNotFound(host=instance.host)
        if self.servicegroup.service_is_up(source):
            raise exception.ComputeServiceInUse(host=instance.host)

    # -- stop / start -----------------------------------------------------------------------
    @check_instance_lock
    @check_instance_host
    @check_instance_state(vm_state=(vm_states.ACTIVE, vm_states.ERROR))
    async def stop(
        self, ctxt: RequestContext, instance: Instance, clean_shutdown: bool = True
    ) -> None:
        """ACTIVE/ERROR, idle -> powering-off; the compute makes it STOPPED."""
        instance.task_state = task_states.POWERING_OFF
        instance.progress = 0
        await instance.save(expected_task_state=[None])
        await self.db.action_start(ctxt, instance.uuid, "stop")
        await self.compute_rpcapi.stop_instance(ctxt, instance, clean_shutdown)

    @check_instance_lock
    @check_instance_host
    @check_instance_state(vm_state=(vm_states.STOPPED,))
    async def start(self, ctxt: RequestContext, instance: Instance) -> None:
        """STOPPED, idle -> powering-on; the compute makes it ACTIVE."""
        instance.task_state = task_states.POWERING_ON
        await instance.save(expected_task_state=[None])
        await self.db.action_start(ctxt, instance.uuid, "start")
        await self.compute_rpcapi.start_instance(ctxt, instance)

    # -- delete and lock ----------------------------------------------------------------------
    @check_instance_lock
    @check_instance_state(vm_state=None, task_state=None, must_have_launched=False)
    async def delete(self, ctxt: RequestContext, instance: Instance) -> None:
        """Any state. Compute up: DELETING (overrides any task) and terminate; compute down
        or no host: deleted here ("local delete")."""
        up = False
        if instance.host:
            service = await self.db.service_get_by_host_and_binary(
                ctxt, instance.host, COMPUTE_BINARY
            )
            up = service is not None and self.servicegroup.service_is_up(service)
        deleting = (task_states.DELETING, task_states.SOFT_DELETING)
        if up and instance.task_state in deleting:
            return
        await self.db.action_start(ctxt, instance.uuid, "delete")
        if not up:
            await self._local_delete(ctxt, instance)
            return
        instance.task_state = task_states.DELETING
        await instance.save()
        await self.compute_rpcapi.terminate_instance(ctxt, instance, [])

    async def _local_delete(self, ctxt: RequestContext, instance: Instance) -> None:
        """Deleted here, ``delete.start`` / ``.end`` notified by the API (as Nova's)."""
        self.notifier.instance(ctxt, instance, "delete", "start", source="nova-api")
        instance.vm_state, instance.task_state = vm_states.DELETED, None
        instance.terminated_at = dt.datetime.now(dt.UTC)
        try:
            await instance.save()
            await instance.destroy()
        except exception.InstanceNotFound:
            pass  # deleted meanwhile: what this delete wanted
        finally:
            self.notifier.instance(ctxt, instance, "delete", "end", source="nova-api")

    async def lock(self, ctxt: RequestContext, instance: Instance) -> None:
        """Lock: non-admin callers are refused state-changing operations."""
        instance.locked = True
        await instance.save()
        await self.db.action_start(ctxt, instance.uuid, "lock")

    async def unlock(self, ctxt: RequestContext, instance: Instance) -> None:
        instance.locked = False
        await instance.save()
        await self.db.action_start(ctxt, instance.uuid, "unlock")
