"""ConductorManager (the computes' database) and ComputeTaskManager (build orchestration)."""

from __future__ import annotations

import copy
import logging
import traceback
from collections.abc import Sequence
from typing import Any

from aionova import exception, rpc
from aionova.compute.rpcapi import ComputeAPI
from aionova.conductor.rebuild import RebuildTaskMixin
from aionova.config import Config
from aionova.context import RequestContext
from aionova.db import Database
from aionova.manager import Manager
from aionova.objects import (
    ComputeNode,
    Instance,
    InstanceFault,
    Migration,
    RequestSpec,
    SchedulerRetries,
    Service,
)
from aionova.scheduler import utils as scheduler_utils
from aionova.scheduler.rpcapi import SchedulerAPI
from aionova.states import vm_states

LOG = logging.getLogger(__name__)
EVENT_BUILD = "conductor_build_instances"


class ConductorManager(Manager):
    """Target 3.0: reads and writes on behalf of computes (which have no database)."""

    service_name = "conductor"
    target = rpc.Target(version="3.1")  # 3.1: instance_get_unclaimed_builds

    def __init__(self, host: str, config: Config, transport: rpc.Transport, store: Database):
        super().__init__(host, config, transport, store)
        self.db: Database = store
        self.additional_endpoints = [ComputeTaskManager(host, config, transport, store)]

    async def instance_get(self, ctxt: RequestContext, uuid: str) -> Instance:
        return await self.db.instance_get(ctxt, uuid)

    async def instance_get_all_by_host(
        self, ctxt: RequestContext, host: str, node: str | None = None
    ) -> list[Instance]:
        return await self.db.instance_get_all_by_host(ctxt, host, node)

    async def instance_get_unclaimed_builds(
        self, ctxt: RequestContext, host: str, nodes: list[str] | None = None
    ) -> list[Instance]:
        """BUILDING instances sent to ``host`` (its ``nodes``) that no claim has tagged."""
        return await self.db.instance_get_unclaimed_builds(ctxt, host, nodes)

    @rpc.expected_exceptions(exception.InstanceNotFound, exception.InstanceUpdateConflict)
    async def instance_update(
        self,
        ctxt: RequestContext,
        uuid: str,
        updates: dict[str, Any],
        expected_task_state: Sequence[str | None] | None = None,
        expected_vm_state: Sequence[str | None] | None = None,
    ) -> Instance:
        return await self.db.instance_update(
            ctxt, uuid, updates, expected_task_state, expected_vm_state
        )

    @rpc.expected_exceptions(exception.InstanceNotFound)
    async def instance_destroy(self, ctxt: RequestContext, uuid: str) -> Instance:
        return await self.db.instance_destroy(ctxt, uuid)

    async def instance_fault_create(self, ctxt: RequestContext, fault: InstanceFault) -> None:
        await self.db.instance_fault_create(ctxt, fault)

    async def migration_create(self, ctxt: RequestContext, migration: Migration) -> Migration:
        return await self.db.migration_create(ctxt, migration)

    @rpc.expected_exceptions(exception.NotFound)
    async def migration_update(
        self, ctxt: RequestContext, migration_id: int, updates: dict[str, Any]
    ) -> Migration:
        return await self.db.migration_update(ctxt, migration_id, updates)

    async def migration_get_all(
        self, ctxt: RequestContext, filters: dict[str, Any] | None = None
    ) -> list[Migration]:
        return await self.db.migration_get_all(ctxt, filters)

    async def action_event_start(
        self, ctxt: RequestContext, uuid: str, event: str, host: str | None = None
    ) -> None:
        await self.db.action_event_start(ctxt, uuid, event, host)

    async def action_event_finish(
        self,
        ctxt: RequestContext,
        uuid: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        await self.db.action_event_finish(ctxt, uuid, event, result, traceback)

    async def service_get_by_host_and_binary(
        self, ctxt: RequestContext, host: str, binary: str
    ) -> Service | None:
        return await self.db.service_get_by_host_and_binary(ctxt, host, binary)

    async def service_create(self, ctxt: RequestContext, service: Service) -> Service:
        return await self.db.service_create(ctxt, service)

    @rpc.expected_exceptions(exception.NotFound)
    async def service_update(
        self, ctxt: RequestContext, service_id: int, updates: dict[str, Any]
    ) -> Service:
        return await self.db.service_update(ctxt, service_id, updates)

    async def service_get_minimum_version(self, ctxt: RequestContext, binary: str) -> int:
        return await self.db.service_get_minimum_version(ctxt, binary)

    async def compute_node_get_all_by_host(
        self, ctxt: RequestContext, host: str
    ) -> list[ComputeNode]:
        return await self.db.compute_node_get_all_by_host(ctxt, host)

    async def compute_node_create(self, ctxt: RequestContext, node: ComputeNode) -> ComputeNode:
        return await self.db.compute_node_create(ctxt, node)

    async def compute_node_update(
        self, ctxt: RequestContext, node_id: int, updates: dict[str, Any]
    ) -> ComputeNode:
        return await self.db.compute_node_update(ctxt, node_id, updates)


class ComputeTaskManager(RebuildTaskMixin):
    """Namespace ``compute_task``: schedules instances and casts them to computes."""

    target = rpc.Target(namespace="compute_task", version="1.12")

    def __init__(self, host: str, config: Config, transport: rpc.Transport, db: Database):
        self.host, self.config, self.db = host, config, db
        self.scheduler = SchedulerAPI(transport, config)
        self.compute_rpcapi = ComputeAPI(transport, db, config)

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
        """Schedule (re-running the scheduler on reschedules) and cast each build."""
        if request_spec is None:
            request_spec = await self.db.request_spec_get(ctxt, instances[0].uuid)
        filter_properties = dict(filter_properties or {})
        try:
            scheduler_utils.populate_retry(
                filter_properties,
                instances[0].uuid,
                self.config.scheduler.max_attempts,
                request_spec,
            )
            retry = filter_properties.get("retry")
            request_spec.retry = SchedulerRetries(**retry) if retry else None
            request_spec.num_instances = len(instances)
            hosts = await self.scheduler.select_destinations(
                ctxt, request_spec, [i.uuid for i in instances]
            )
            # Nova's allocations against the chosen node: what lets a compute that
            # restarts before claiming find the builds sent to it (init_host step 7).
            await self.db.build_selections_record(
                ctxt,
                [(i.uuid, h["host"], h["nodename"]) for i, h in zip(instances, hosts, strict=True)],
            )
        except Exception as exc:
            for instance in instances:
                await self._set_error(ctxt, instance, exc)
            return
        for instance, host in zip(instances, hosts, strict=True):
            local_props = copy.deepcopy(filter_properties)
            scheduler_utils.populate_filter_properties(local_props, host, request_spec)
            await self.compute_rpcapi.build_and_run_instance(
                ctxt,
                instance,
                host["host"],
                image,
                request_spec,
                local_props,
                admin_password=admin_password,
                injected_files=injected_files,
                requested_networks=requested_networks,
                security_groups=security_groups,
                block_device_mapping=block_device_mapping,
                node=host["nodename"],
                limits=host["limits"],
            )

    async def _set_error(self, ctxt: RequestContext, instance: Instance, exc: Exception) -> None:
        """No host (or retries exhausted): ERROR, task None, a fault and a failed event."""
        LOG.info("build of %s failed in the conductor: %s", instance.uuid, exc)
        tb = await self._error_out(ctxt, instance, exc)
        if tb is not None:
            await self.db.action_event_start(ctxt, instance.uuid, EVENT_BUILD, self.host)
            await self.db.action_event_finish(ctxt, instance.uuid, EVENT_BUILD, "Error", tb)

    async def _error_out(
        self, ctxt: RequestContext, instance: Instance, exc: Exception
    ) -> str | None:
        """ERROR with task None and a fault; the traceback, or None if the instance is gone."""
        instance.vm_state, instance.task_state = vm_states.ERROR, None
        try:
            await instance.save()
        except exception.InstanceNotFound:
            return None
        code = getattr(exc, "kwargs", {}).get("code", 500)
        tb = "".join(traceback.format_exception(exc))
        await self.db.instance_fault_create(
            ctxt,
            InstanceFault(
                instance_uuid=instance.uuid, code=code, message=str(exc), details=tb, host=self.host
            ),
        )
        return tb
