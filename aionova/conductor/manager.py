"""The conductor: the computes' database (``ConductorManager``), the build and rebuild
orchestration (``ComputeTaskManager``) and the recovery of stuck work."""

from __future__ import annotations

import copy
import logging
from typing import Any

from aionova import exception, rpc
from aionova.compute.rpcapi import ComputeAPI
from aionova.conductor.errors import error_out
from aionova.conductor.passthrough import endpoint_methods
from aionova.conductor.rebuild import RebuildTask
from aionova.conductor.recovery import StuckWorkRecovery
from aionova.conductor.rpcapi import ComputeTaskAPI
from aionova.conductor.service_status import ServiceStatusWatch
from aionova.config import Config
from aionova.context import RequestContext
from aionova.manager import Manager, PeriodicTask
from aionova.notifications.service import ServiceNotifications
from aionova.objects import Instance, RequestSpec, SchedulerRetries
from aionova.objects.store import ObjectStore
from aionova.scheduler import utils as scheduler_utils
from aionova.scheduler.rpcapi import SchedulerAPI
from aionova.servicegroup import ServiceGroupAPI
from aionova.states import task_states, vm_states

LOG = logging.getLogger(__name__)
EVENT_BUILD = "conductor_build_instances"
STORE_VERSION = "3.3"


class ConductorManager(Manager):
    """nova-conductor: serves the store to computes and runs the compute tasks.

    Target 3.x (no namespace): every ``ObjectStore`` method, run on the database. Those
    methods are generated from the protocol (conductor/passthrough.py, set on the class
    below): one per protocol method, with the same parameters, the database's
    exceptions expected. 3.1: instance_get_unclaimed_builds; 3.2: the rest of the
    protocol (what the API and scheduler read too); 3.3: instance_start_build and
    the allocations.
    """

    service_name = "conductor"
    target = rpc.Target(version=STORE_VERSION)

    def __init__(self, host: str, config: Config, transport: rpc.Transport, store: ObjectStore):
        super().__init__(host, config, transport, store)
        self.db = store
        self.compute_task = ComputeTaskManager(host, config, transport, store, self.notifier)
        self.recovery = StuckWorkRecovery(host, config, store, ComputeTaskAPI(transport, config))
        self.additional_endpoints = [self.compute_task]
        d = config.DEFAULT
        servicegroup = ServiceGroupAPI(d.report_interval, d.service_down_time)
        self.service_status = ServiceStatusWatch(host, store, servicegroup, self.notifier)

    async def post_start_hook(self, ctxt: RequestContext) -> None:
        """Recover what a crash left stuck before (now), then periodically."""
        try:
            await self.recovery.run(ctxt)
        except Exception:
            LOG.exception("%s: recovering stuck work at start failed", self.host)

    def periodic_tasks(self) -> list[PeriodicTask]:
        tasks: list[PeriodicTask] = [
            (self.config.conductor.recovery_interval, self.recover_stuck_work)
        ]
        if self.notifier.versioned_enabled:  # service.update is a versioned notification
            tasks.append((self.config.DEFAULT.report_interval, self.watch_service_status))
        return tasks

    async def watch_service_status(self, ctxt: RequestContext) -> None:
        """Periodic: ``service.update`` for services whose state changed (service_status.py)."""
        await self.service_status.look(ctxt)

    async def recover_stuck_work(self, ctxt: RequestContext) -> None:
        """Periodic: builds and tasks the API or a conductor left without an owner."""
        await self.recovery.run(ctxt)


for _name, _method in endpoint_methods((exception.NovaException,), rpc.ExpectedException).items():
    _method.__qualname__ = f"ConductorManager.{_name}"
    setattr(ConductorManager, _name, _method)


class ComputeTaskManager:
    """Namespace ``compute_task``: schedules instances and casts them to computes."""

    target = rpc.Target(namespace="compute_task", version="1.12")

    def __init__(
        self,
        host: str,
        config: Config,
        transport: rpc.Transport,
        db: ObjectStore,
        notifier: ServiceNotifications,
    ):
        self.host, self.config, self.db = host, config, db
        self.scheduler = SchedulerAPI(transport, config)
        self.compute_rpcapi = ComputeAPI(transport, db, config)
        self.rebuild = RebuildTask(host, db, self.scheduler, self.compute_rpcapi, notifier)

    async def build_instances(
        self,
        ctxt: RequestContext,
        instances: list[Instance],
        image: Any,
        filter_properties: dict[str, Any],
        admin_password: str | None = None,
        injected_files: list[Any] | None = None,
        requested_networks: Any = None,
        security_groups: list[str] | None = None,
        block_device_mapping: list[Any] | None = None,
        legacy_bdm: bool = True,
        request_spec: RequestSpec | None = None,
    ) -> None:
        """Schedule (re-running the scheduler on reschedules) and cast each build.

        Idempotent: instances that no longer wait for a host (the request was delivered
        again, or superseded) are left alone; the scheduler's claims and the compute's
        start refuse a duplicate that gets past this first look (allocations.py).
        """
        instances = await self._waiting(ctxt, instances)
        if not instances:
            return
        if request_spec is None:
            request_spec = await self.db.request_spec_get(ctxt, instances[0].uuid)
        filter_properties = dict(filter_properties or {})
        try:
            hosts = await self._schedule(ctxt, instances, filter_properties, request_spec)
        except exception.UnexpectedTaskStateError as exc:
            LOG.info("build of %s already handled elsewhere: %s", instances[0].uuid, exc)
            return
        except Exception as exc:
            for instance in instances:
                await self._set_error(ctxt, instance, exc)
            return
        await self._cast_builds(
            ctxt, instances, hosts, image, filter_properties, request_spec,
            admin_password=admin_password, injected_files=injected_files,
            requested_networks=requested_networks, security_groups=security_groups,
            block_device_mapping=block_device_mapping,
        )  # fmt: skip

    async def _cast_builds(
        self,
        ctxt: RequestContext,
        instances: list[Instance],
        hosts: list[dict[str, Any] | None],
        image: Any,
        filter_properties: dict[str, Any],
        request_spec: RequestSpec,
        **build: Any,
    ) -> None:
        """One build_and_run_instance cast per instance, to its selected host (none for
        an instance that another delivery of this request placed already)."""
        for instance, host in zip(instances, hosts, strict=True):
            if host is None:
                LOG.info("build of %s delivered again: placed by the other delivery", instance.uuid)
                continue
            local_props = copy.deepcopy(filter_properties)
            scheduler_utils.populate_filter_properties(local_props, host, request_spec)
            await self.compute_rpcapi.build_and_run_instance(
                ctxt,
                instance,
                host["host"],
                image,
                request_spec,
                local_props,
                node=host["nodename"],
                limits=host["limits"],
                **build,
            )

    async def _schedule(
        self,
        ctxt: RequestContext,
        instances: list[Instance],
        filter_properties: dict[str, Any],
        request_spec: RequestSpec,
    ) -> list[dict[str, Any] | None]:
        """select_destinations: the scheduler claims each chosen node and records where
        each build goes (Nova's allocations against the chosen node: what lets a compute
        that restarts before claiming find the builds sent to it, init_host step 7, and
        the recovery tell them apart)."""
        scheduler_utils.populate_retry(
            filter_properties, instances[0].uuid, self.config.scheduler.max_attempts, request_spec
        )
        retry = filter_properties.get("retry")
        request_spec.retry = SchedulerRetries(**retry) if retry else None
        request_spec.num_instances = len(instances)
        return await self.scheduler.select_destinations(
            ctxt, request_spec, [i.uuid for i in instances]
        )

    async def _waiting(self, ctxt: RequestContext, instances: list[Instance]) -> list[Instance]:
        """The instances that still wait for a host (fresh from the database)."""
        waiting = []
        for instance in instances:
            try:
                fresh = await self.db.instance_get(ctxt, instance.uuid)
            except exception.InstanceNotFound:
                continue
            if _awaits_host(fresh):
                waiting.append(fresh)
            else:
                LOG.info("build of %s delivered again or superseded: left alone", fresh.uuid)
        return waiting

    async def rebuild_instance(
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
        preserve_ephemeral: bool = False,
        host: str | None = None,
        request_spec: RequestSpec | None = None,
    ) -> None:
        """Rebuild on the same host, or evacuate (``recreate``): see rebuild.py."""
        await self.rebuild.run(
            ctxt,
            instance,
            new_pass,
            injected_files,
            image_ref,
            orig_image_ref,
            orig_sys_metadata,
            bdms,
            recreate,
            on_shared_storage,
            preserve_ephemeral,
            host,
            request_spec,
        )

    async def _set_error(self, ctxt: RequestContext, instance: Instance, exc: Exception) -> None:
        """No host (or retries exhausted): ERROR, task None, a fault and a failed event."""
        LOG.info("build of %s failed in the conductor: %s", instance.uuid, exc)
        tb = await error_out(
            self.db, self.host, ctxt, instance, exc, expected_task=[task_states.SCHEDULING]
        )
        if tb is not None:
            await self.db.action_event_start(ctxt, instance.uuid, EVENT_BUILD, self.host)
            await self.db.action_event_finish(ctxt, instance.uuid, EVENT_BUILD, "Error", tb)


def _awaits_host(instance: Instance) -> bool:
    return (
        instance.vm_state == vm_states.BUILDING
        and instance.task_state == task_states.SCHEDULING
        and instance.host is None
    )
