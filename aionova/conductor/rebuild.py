"""Conductor ``rebuild_instance``: rebuild on the same host, or evacuate (spec §5.3)."""

from __future__ import annotations

import logging
from typing import Any

from aionova import exception
from aionova.compute.rpcapi import ComputeAPI
from aionova.conductor.errors import error_out
from aionova.context import RequestContext
from aionova.notifications.service import ServiceNotifications
from aionova.objects import Instance, Migration, RequestSpec
from aionova.objects.store import ObjectStore
from aionova.scheduler.rpcapi import SchedulerAPI

LOG = logging.getLogger(__name__)
EVENT_REBUILD = "rebuild_server"


class RebuildTask:
    """Chooses the destination (unless given) and casts the compute's rebuild (1.8/1.12).

    Before the cast it notifies ``rebuild.scheduled`` as Nova's conductor does: the legacy
    event from this host, the versioned one as ``nova-conductor:<destination host>``.
    """

    def __init__(
        self,
        host: str,
        db: ObjectStore,
        scheduler: SchedulerAPI,
        compute_rpcapi: ComputeAPI,
        notifier: ServiceNotifications,
    ) -> None:
        self.host, self.db = host, db
        self.scheduler, self.compute_rpcapi = scheduler, compute_rpcapi
        self.notifier = notifier

    async def run(
        self,
        ctxt: RequestContext,
        instance: Instance,
        new_pass: str | None,
        injected_files: list[Any] | None,
        image_ref: str | None,
        orig_image_ref: str | None,
        orig_sys_metadata: dict[str, Any] | None,
        bdms: list[Any] | None,
        recreate: bool,
        on_shared_storage: bool | None,
        preserve_ephemeral: bool,
        host: str | None,
        request_spec: RequestSpec | None,
    ) -> None:
        if not await self.db.action_event_start_once(ctxt, instance.uuid, EVENT_REBUILD, self.host):
            LOG.info("rebuild of %s delivered again: done or in progress", instance.uuid)
            return
        migration = await self._accepted_migration(ctxt, instance) if recreate else None
        try:
            host, node, limits = await self._destination(
                ctxt, instance, request_spec, recreate, host
            )
        except Exception as exc:
            if orig_image_ref and orig_image_ref != image_ref:
                instance.image_ref = orig_image_ref  # rebuild only: roll the new image back
            await self._scheduling_failed(ctxt, instance, migration, exc)
            return
        await self._scheduled(ctxt, instance, host)
        await self.compute_rpcapi.rebuild_instance(
            ctxt,
            instance,
            new_pass,
            injected_files,
            image_ref,
            orig_image_ref,
            orig_sys_metadata,
            bdms,
            recreate=recreate,
            on_shared_storage=on_shared_storage,
            host=host,
            preserve_ephemeral=preserve_ephemeral,
            migration=migration,
            node=node,
            limits=limits,
        )
        await self.db.action_event_finish(ctxt, instance.uuid, EVENT_REBUILD, "Success")

    async def _scheduled(self, ctxt: RequestContext, instance: Instance, host: str) -> None:
        """``rebuild.scheduled``, out before the compute hears of the rebuild."""
        self.notifier.instance(ctxt, instance, "rebuild_scheduled", host=host)
        await self.notifier.handoff()

    async def _accepted_migration(
        self, ctxt: RequestContext, instance: Instance
    ) -> Migration | None:
        """The evacuation's migration record the API created (None from older APIs)."""
        found = await self.db.migration_get_all(
            ctxt, {"instance_uuid": instance.uuid, "status": "accepted"}
        )
        return found[-1] if found else None

    async def _destination(
        self,
        ctxt: RequestContext,
        instance: Instance,
        spec: RequestSpec | None,
        recreate: bool,
        host: str | None,
    ) -> tuple[str, str | None, dict[str, Any] | None]:
        """(host, node, limits). ``host`` is given for a same-image rebuild (its own host)
        and a forced evacuation; otherwise the scheduler picks an evacuation destination,
        or re-validates the instance's own host for a rebuild with a new image."""
        if host is None:
            return await self._schedule(ctxt, instance, spec, recreate)
        if recreate:
            await self._claim_forced(ctxt, instance, host)
        return host, None, None

    async def _claim_forced(self, ctxt: RequestContext, instance: Instance, host: str) -> None:
        """A forced evacuation skips the scheduler: its usage is still allocated on the
        destination (Nova copies the allocations there), without limits."""
        nodes = await self.db.compute_node_get_all_by_host(ctxt, host)
        if nodes and nodes[0].id is not None:
            f = instance.flavor
            wanted = (f.memory_mb, f.root_gb + f.ephemeral_gb, f.vcpus) if f else (0, 0, 0)
            await self.db.allocation_claim(ctxt, instance.uuid, nodes[0].id, wanted)

    async def _schedule(
        self, ctxt: RequestContext, instance: Instance, spec: RequestSpec | None, recreate: bool
    ) -> tuple[str, str | None, dict[str, Any] | None]:
        """select_destinations; an evacuation ignores the source and boot-time forced hosts."""
        if spec is None:
            try:
                spec = await self.db.request_spec_get(ctxt, instance.uuid)
            except exception.NotFound:
                assert instance.flavor is not None
                spec = RequestSpec(instance_uuid=instance.uuid, flavor=instance.flavor)
        spec.instance_uuid = instance.uuid
        if recreate:
            spec.ignore_hosts = [instance.host] if instance.host else None
            spec.reset_forced_destinations()
        spec.retry = None
        spec.num_instances = 1
        (selected,) = await self.scheduler.select_destinations(ctxt, spec, [instance.uuid])
        assert selected is not None  # one instance: the scheduler raises instead of None
        return selected["host"], selected["nodename"], selected["limits"]

    async def _scheduling_failed(
        self,
        ctxt: RequestContext,
        instance: Instance,
        migration: Migration | None,
        exc: Exception,
    ) -> None:
        """No (valid) host: migration ``error`` (evacuate), instance ERROR (task None) saved
        with any image rollback, fault, failed event."""
        LOG.info("rebuild/evacuation of %s could not be scheduled: %s", instance.uuid, exc)
        if migration is not None:
            migration.status = "error"
            await migration.save()
        tb = await error_out(self.db, self.host, ctxt, instance, exc)
        if tb is not None:
            await self.db.action_event_finish(ctxt, instance.uuid, EVENT_REBUILD, "Error", tb)
