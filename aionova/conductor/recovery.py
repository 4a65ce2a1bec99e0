"""Nothing stuck after a crash: work the API or a conductor accepted and nobody owns.

A crash of the API or of a conductor loses what it held in memory: a build cast not yet
sent (or sent on ``memory://``), a rebuild or reboot the API saved but never cast. Nova
leaves such instances in BUILD or in their task state for ever; the conductor looks for
them when it starts and every ``[conductor] recovery_interval`` seconds, and acts on
those unchanged for ``[conductor] build_recovery_timeout`` seconds:

* a build never sent to a compute (no build selection): driven again, its request spec
  cast to the conductor's build path;
* a build sent to a compute that has not started it (the cast was lost, or it waited
  behind the compute's build slots all that time: still ``scheduling``), or started
  by a compute that is now down: ERROR, with a fault and a failed action event (that
  compute's restart would do the same, see init_host; a compute that still holds the
  build finds it no longer BUILDING and drops it);
* rebuilding (the API's state before the conductor's cast; a compute's first save moves
  it on): ERROR, the evacuation's migration ``error``;
* deleting without a host: the local delete is finished;
* rebooting / powering-off / powering-on whose compute is up (it would have taken them):
  the task is cleared, with a fault. A compute that is down recovers them itself.

Each is claimed by compare-and-swap on the row's ``updated_at`` in the same transaction
as the action, so several conductors never both act on one instance.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from aionova import exception
from aionova.conductor.rpcapi import ComputeTaskAPI
from aionova.config import Config
from aionova.context import RequestContext
from aionova.objects import Instance, InstanceFault, RequestSpec
from aionova.objects.store import ObjectStore
from aionova.servicegroup import ServiceGroupAPI
from aionova.states import task_states, vm_states

LOG = logging.getLogger(__name__)
EVENT_BUILD = "conductor_recover_build"
EVENT_TASK = "conductor_recover_task"
COMPUTE_BINARY = "nova-compute"
_REVERTIBLE = (
    task_states.REBOOTING,
    task_states.REBOOTING_HARD,
    task_states.POWERING_OFF,
    task_states.POWERING_ON,
)


class StuckWorkRecovery:
    """Finds and settles stuck instances (the conductor's periodic task)."""

    def __init__(self, host: str, config: Config, db: ObjectStore, tasks: ComputeTaskAPI) -> None:
        self.host, self.config, self.db, self.tasks = host, config, db, tasks
        d = config.DEFAULT
        self.servicegroup = ServiceGroupAPI(d.report_interval, d.service_down_time)

    async def run(self, ctxt: RequestContext) -> int:
        """One pass; the number of instances this conductor acted on."""
        timeout = self.config.conductor.build_recovery_timeout
        if timeout <= 0:
            return 0
        older_than = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=timeout)
        acted = 0
        for instance, selected_host in await self.db.instance_get_stuck(ctxt, older_than):
            try:
                acted += await self._recover(ctxt, instance, selected_host)
            except Exception:
                LOG.exception("recovering stuck instance %s failed", instance.uuid)
        if acted:
            LOG.info("recovered %d stuck instance(s)", acted)
        return acted

    async def _recover(
        self, ctxt: RequestContext, instance: Instance, selected_host: str | None
    ) -> bool:
        task = instance.task_state
        if instance.vm_state == vm_states.BUILDING and instance.host is None:
            return await self._recover_build(ctxt, instance, selected_host)
        if task == task_states.REBUILDING:
            return await self._error(ctxt, instance, "its rebuild was never started")
        if task == task_states.DELETING and instance.host is None:
            return await self._finish_delete(ctxt, instance)
        if task in _REVERTIBLE and await self._compute_up(ctxt, instance.host):
            return await self._revert(ctxt, instance)
        return False

    async def _recover_build(
        self, ctxt: RequestContext, instance: Instance, selected_host: str | None
    ) -> bool:
        if selected_host is None and instance.task_state == task_states.SCHEDULING:
            return await self._rebuild_request(ctxt, instance)
        if instance.task_state == task_states.SCHEDULING:
            why = f"its build was sent to {selected_host} but did not start there in time"
            return await self._error(ctxt, instance, why)
        if selected_host is not None and await self._compute_up(ctxt, selected_host):
            return False  # the compute is building it
        return await self._error(ctxt, instance, f"its compute {selected_host} is gone")

    async def _compute_up(self, ctxt: RequestContext, host: str | None) -> bool:
        if not host:
            return False
        service = await self.db.service_get_by_host_and_binary(ctxt, host, COMPUTE_BINARY)
        return service is not None and self.servicegroup.service_is_up(service)

    def _fault(self, instance: Instance, why: str) -> InstanceFault:
        message = f"Instance {instance.uuid} was recovered by the conductor: {why}."
        return InstanceFault(
            instance_uuid=instance.uuid, code=500, message=message, details=message, host=self.host
        )

    async def _claim(
        self,
        ctxt: RequestContext,
        instance: Instance,
        updates: dict[str, Any],
        *,
        why: str | None,
        event: str,
        destroy: bool = False,
    ) -> Instance | None:
        assert instance.updated_at is not None
        fault = None if why is None else self._fault(instance, why)
        found = await self.db.instance_recover(
            ctxt,
            instance.uuid,
            instance.updated_at,
            updates,
            fault=fault,
            event=(event, self.host),
            destroy=destroy,
        )
        if found is None:
            LOG.debug("stuck instance %s changed meanwhile; left to its owner", instance.uuid)
        return found

    async def _error(self, ctxt: RequestContext, instance: Instance, why: str) -> bool:
        """ERROR, task None, a fault, a failed event; an evacuation's migration fails too."""
        LOG.warning("instance %s is stuck (%s): setting ERROR", instance.uuid, why)
        event = EVENT_BUILD if instance.vm_state == vm_states.BUILDING else EVENT_TASK
        updates = {"vm_state": vm_states.ERROR, "task_state": None}
        if await self._claim(ctxt, instance, updates, why=why, event=event) is None:
            return False
        if instance.task_state == task_states.REBUILDING:
            await self._fail_migrations(ctxt, instance)
        return True

    async def _fail_migrations(self, ctxt: RequestContext, instance: Instance) -> None:
        filters = {"instance_uuid": instance.uuid, "status": ["accepted", "pre-migrating"]}
        for migration in await self.db.migration_get_all(ctxt, filters):
            migration.status = "error"
            await migration.save()

    async def _finish_delete(self, ctxt: RequestContext, instance: Instance) -> bool:
        LOG.warning("instance %s was left deleting without a host: deleting it", instance.uuid)
        updates = {
            "vm_state": vm_states.DELETED,
            "task_state": None,
            "terminated_at": dt.datetime.now(dt.UTC),
        }
        found = await self._claim(ctxt, instance, updates, why=None, event=EVENT_TASK, destroy=True)
        return found is not None

    async def _revert(self, ctxt: RequestContext, instance: Instance) -> bool:
        why = f"its {instance.task_state} request never reached compute {instance.host}"
        LOG.warning("instance %s is stuck (%s): clearing the task", instance.uuid, why)
        found = await self._claim(ctxt, instance, {"task_state": None}, why=why, event=EVENT_TASK)
        return found is not None

    async def _rebuild_request(self, ctxt: RequestContext, instance: Instance) -> bool:
        """Drive a build that never reached a compute again: claimed (its updated_at
        bumped, a recovery event), then cast to the build path with its request spec in
        the context of the request that created it."""
        LOG.warning("build of %s was accepted but never scheduled: driving it again", instance.uuid)
        claimed = await self._claim(ctxt, instance, {}, why=None, event=EVENT_BUILD)
        if claimed is None:
            return False
        # A placement made before (its build never started) would stand: a new one instead.
        await self.db.allocation_delete(ctxt, instance.uuid)
        try:
            spec = await self.db.request_spec_get(ctxt, instance.uuid)
        except exception.NotFound:
            assert instance.flavor is not None
            spec = RequestSpec(instance_uuid=instance.uuid, flavor=instance.flavor)
        spec.retry = None
        owner = await self._requester(ctxt, claimed)
        await self.tasks.build_instances(
            owner, [claimed], spec.image, {}, security_groups=["default"], request_spec=spec
        )
        return True

    async def _requester(self, ctxt: RequestContext, instance: Instance) -> RequestContext:
        """The context of the request that created the instance (its events attach to
        that request's action), or ``ctxt``."""
        for action in reversed(await self.db.actions_get(ctxt, instance.uuid)):
            if action.action == "create":
                return RequestContext(
                    user_id=action.user_id,
                    project_id=action.project_id,
                    request_id=action.request_id,
                )
        return ctxt
