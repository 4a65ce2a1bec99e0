"""Compute API operations after boot: what the REST layer calls for server actions.

Each checks Nova's preconditions (lock, host, vm_state/task_state), writes the
task_state with a compare-and-swap save, records the instance action and casts.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from aionova import exception
from aionova.compute.checks import check_instance_state
from aionova.context import RequestContext
from aionova.objects import Destination, Instance, Migration, RequestSpec
from aionova.states import task_states, vm_states

if TYPE_CHECKING:
    from aionova.compute.rpcapi import ComputeAPI
    from aionova.conductor.rpcapi import ComputeTaskAPI
    from aionova.db import Database
    from aionova.servicegroup import ServiceGroupAPI

COMPUTE_BINARY = "nova-compute"


def check_instance_lock(func: Any) -> Any:
    """``InstanceIsLocked`` when the instance is locked and the caller is not admin."""

    @functools.wraps(func)
    async def inner(self: Any, ctxt: RequestContext, instance: Instance, *a: Any, **k: Any) -> Any:
        if instance.locked and not ctxt.is_admin:
            raise exception.InstanceIsLocked(instance_uuid=instance.uuid)
        return await func(self, ctxt, instance, *a, **k)

    return inner


def check_instance_host(func: Any) -> Any:
    """``InstanceNotReady`` when the instance has no host."""

    @functools.wraps(func)
    async def inner(self: Any, ctxt: RequestContext, instance: Instance, *a: Any, **k: Any) -> Any:
        if not instance.host:
            raise exception.InstanceNotReady(instance_id=instance.uuid)
        return await func(self, ctxt, instance, *a, **k)

    return inner


class ActionsMixin:
    """reboot, rebuild, evacuate, stop, start, delete, lock/unlock (part of ``API``)."""

    db: Database
    compute_rpcapi: ComputeAPI
    compute_task_api: ComputeTaskAPI
    servicegroup: ServiceGroupAPI

    # -- reboot -------------------------------------------------------------------
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

    # -- rebuild and evacuate -------------------------------------------------------
    @check_instance_lock
    @check_instance_state(vm_state=(vm_states.ACTIVE, vm_states.STOPPED, vm_states.ERROR))
    async def rebuild(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image_href: str,
        admin_password: str | None = None,
        **kwargs: Any,
    ) -> Instance:
        """Same host, new image. kwargs: ``name``, ``metadata``, ``preserve_ephemeral``."""
        image = await self.db.image_get(ctxt, image_href)
        assert instance.flavor is not None
        self._check_image_fits(instance.flavor, image)  # type: ignore[attr-defined]
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
        if image_href != orig_image_ref:
            # A new image: the scheduler must re-validate the *same* host for it
            # (only RUN_ON_REBUILD filters, nothing claimed); host=None makes the
            # conductor ask. The hint is not saved with the spec.
            spec = await self._request_spec(ctxt, instance)
            spec.image = image
            await self.db.request_spec_save(ctxt, spec)
            spec.scheduler_hints = {**spec.scheduler_hints, "_nova_check_type": ["rebuild"]}
            spec.force_hosts = [instance.host] if instance.host else None
            spec.force_nodes = [instance.node] if instance.node else None
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

    @check_instance_state(
        vm_state=(vm_states.ACTIVE, vm_states.STOPPED, vm_states.ERROR), task_state=None
    )
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
        instance.task_state = task_states.REBUILDING
        await instance.save()  # no expectation (2023.1+)
        await self.db.action_start(ctxt, instance.uuid, "evacuate")
        migration = await self.db.migration_create(
            ctxt,
            Migration(
                uuid=str(uuidlib.uuid4()),
                instance_uuid=instance.uuid,
                source_compute=instance.host,
                source_node=instance.node,
                dest_compute=host,
                status="accepted",
                migration_type="evacuation",
            ),
        )
        spec = await self._request_spec(ctxt, instance)
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

    async def _request_spec(self, ctxt: RequestContext, instance: Instance) -> RequestSpec:
        try:
            return await self.db.request_spec_get(ctxt, instance.uuid)
        except exception.NotFound:
            assert instance.flavor is not None
            return RequestSpec(instance_uuid=instance.uuid, flavor=instance.flavor)

    # -- stop / start ---------------------------------------------------------------
    @check_instance_lock
    @check_instance_host
    @check_instance_state(vm_state=(vm_states.ACTIVE, vm_states.ERROR))
    async def stop(self, ctxt: RequestContext, instance: Instance, clean_shutdown: bool = True):
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

    # -- delete ---------------------------------------------------------------------
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
        instance.vm_state, instance.task_state = vm_states.DELETED, None
        instance.terminated_at = dt.datetime.now(dt.UTC)
        try:
            await instance.save()
            await instance.destroy()
        except exception.InstanceNotFound:
            pass

    # -- lock -------------------------------------------------------------------------
    async def lock(self, ctxt: RequestContext, instance: Instance) -> None:
        """Lock: non-admin callers are refused state-changing operations."""
        instance.locked = True
        await instance.save()
        await self.db.action_start(ctxt, instance.uuid, "lock")

    async def unlock(self, ctxt: RequestContext, instance: Instance) -> None:
        instance.locked = False
        await instance.save()
        await self.db.action_start(ctxt, instance.uuid, "unlock")
