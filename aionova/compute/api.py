"""The compute API: what the REST layer calls. Validates, writes, records actions, casts."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from aionova import exception, rpc
from aionova.compute.api_actions import ActionsMixin
from aionova.compute.checks import check_instance_state
from aionova.compute.host_api import HostAPI
from aionova.compute.rpcapi import ComputeAPI
from aionova.conductor.rpcapi import ComputeTaskAPI
from aionova.config import Config
from aionova.context import RequestContext
from aionova.db import Database
from aionova.objects import (
    Destination,
    Flavor,
    ImageMeta,
    Instance,
    InstanceAction,
    InstanceFault,
    Migration,
    RequestSpec,
)
from aionova.servicegroup import ServiceGroupAPI
from aionova.states import power_state, task_states, vm_states


def _parse_availability_zone(az: str | None) -> tuple[str | None, str | None, str | None]:
    """ "az:host[:node]" forces a host (and node)."""
    if not az or ":" not in az:
        return az, None, None
    zone, _, rest = az.partition(":")
    host, _, node = rest.partition(":")
    return zone or None, host or None, node or None


class API(ActionsMixin):
    """Compute API on the shared database, the conductor's compute_task client and the
    compute client. Server actions (reboot, rebuild, evacuate, stop, start, delete,
    lock) are in ``api_actions.py``."""

    def __init__(self, db: Database, transport: rpc.Transport, config: Config) -> None:
        self.db, self.config = db, config
        self.compute_task_api = ComputeTaskAPI(transport, config)
        self.compute_rpcapi = ComputeAPI(transport, db, config)
        d = config.DEFAULT
        self.servicegroup = ServiceGroupAPI(d.report_interval, d.service_down_time)

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
        self._check_image_fits(flavor, image)
        count = max(min_count, max_count or min_count)
        if count < 1:
            raise exception.InvalidRequest(reason="min_count must be at least 1")
        zone, host, node = _parse_availability_zone(availability_zone)
        reservation_id = f"r-{uuidlib.uuid4().hex[:8]}"
        uuids = [str(uuidlib.uuid4()) for _ in range(count)]
        spec = RequestSpec(
            instance_uuid=uuids[0],
            project_id=ctxt.project_id,
            flavor=flavor,
            image=image,
            num_instances=count,
            availability_zone=zone,
            force_hosts=[host] if host else None,
            force_nodes=[node] if node else None,
            requested_destination=Destination(host=requested_host) if requested_host else None,
        )
        instances = []
        for index, uuid in enumerate(uuids):
            display = name if count == 1 else f"{name}-{index + 1}"
            instance = Instance(
                uuid=uuid,
                display_name=display,
                project_id=ctxt.project_id,
                user_id=ctxt.user_id,
                image_ref=image_ref,
                flavor=flavor,
                memory_mb=flavor.memory_mb,
                vcpus=flavor.vcpus,
                root_gb=flavor.root_gb,
                ephemeral_gb=flavor.ephemeral_gb,
                vm_state=vm_states.BUILDING,
                task_state=task_states.SCHEDULING,
                power_state=power_state.NOSTATE,
                availability_zone=zone,
                reservation_id=reservation_id,
                metadata=dict(metadata or {}),
            )
            # The row, its ``create`` action and its request spec: one transaction.
            spec.instance_uuid = uuid
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
        return instances, reservation_id

    @staticmethod
    def _check_image_fits(flavor: Flavor, image: ImageMeta | None) -> None:
        if image is None:
            return
        if image.status != "active":
            raise exception.ImageNotFound(image_id=image.id)
        if flavor.memory_mb < image.min_ram:
            raise exception.FlavorMemoryTooSmall()
        if flavor.root_gb and flavor.root_gb < image.min_disk:
            raise exception.FlavorDiskTooSmall()

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


__all__ = ["API", "HostAPI", "check_instance_state"]
