"""Clients of the conductor: ConductorAPI (a store for computes) and ComputeTaskAPI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aionova import rpc
from aionova.config import Config
from aionova.context import RequestContext
from aionova.messaging import Client
from aionova.objects import (
    ComputeNode,
    Instance,
    InstanceFault,
    Migration,
    RequestSpec,
    Service,
)

TOPIC = "conductor"
Ctx = RequestContext | None


class ConductorAPI:
    """The object store of hosts without a database: every read and save is an RPC call.

    Objects it returns are bound to it, so ``instance.save()`` on a compute goes
    back through the conductor.
    """

    def __init__(self, transport: rpc.Transport, config: Config) -> None:
        target = rpc.Target(topic=TOPIC, version="3.0")
        timeout = config.DEFAULT.rpc_response_timeout
        self.client = Client.create(transport, target, store=self, timeout=timeout)

    async def _call(self, ctxt: Ctx, method: str, **kwargs: Any) -> Any:
        return await self.client.call(ctxt, method, **kwargs)

    async def instance_get(self, ctxt: Ctx, uuid: str) -> Instance:
        return await self._call(ctxt, "instance_get", uuid=uuid)

    async def instance_get_all_by_host(
        self, ctxt: Ctx, host: str, node: str | None = None
    ) -> list[Instance]:
        return await self._call(ctxt, "instance_get_all_by_host", host=host, node=node)

    async def instance_get_unclaimed_builds(
        self, ctxt: Ctx, host: str, nodes: list[str] | None = None
    ) -> list[Instance]:
        """3.1: BUILDING instances sent to ``host`` whose claim never set it."""
        client = self.client.prepare(version="3.1")
        return await client.call(ctxt, "instance_get_unclaimed_builds", host=host, nodes=nodes)

    async def instance_update(
        self,
        ctxt: Ctx,
        uuid: str,
        updates: dict[str, Any],
        expected_task_state: Sequence[str | None] | None = None,
        expected_vm_state: Sequence[str | None] | None = None,
    ) -> Instance:
        return await self._call(
            ctxt,
            "instance_update",
            uuid=uuid,
            updates=updates,
            expected_task_state=expected_task_state,
            expected_vm_state=expected_vm_state,
        )

    async def instance_destroy(self, ctxt: Ctx, uuid: str) -> Instance:
        return await self._call(ctxt, "instance_destroy", uuid=uuid)

    async def instance_fault_create(self, ctxt: Ctx, fault: InstanceFault) -> None:
        await self._call(ctxt, "instance_fault_create", fault=fault)

    async def migration_create(self, ctxt: Ctx, migration: Migration) -> Migration:
        return await self._call(ctxt, "migration_create", migration=migration)

    async def migration_update(
        self, ctxt: Ctx, migration_id: int, updates: dict[str, Any]
    ) -> Migration:
        return await self._call(
            ctxt, "migration_update", migration_id=migration_id, updates=updates
        )

    async def migration_get_all(
        self, ctxt: Ctx, filters: dict[str, Any] | None = None
    ) -> list[Migration]:
        return await self._call(ctxt, "migration_get_all", filters=filters)

    async def action_event_start(
        self, ctxt: Ctx, uuid: str, event: str, host: str | None = None
    ) -> None:
        await self._call(ctxt, "action_event_start", uuid=uuid, event=event, host=host)

    async def action_event_finish(
        self, ctxt: Ctx, uuid: str, event: str, result: str, traceback: str | None = None
    ) -> None:
        await self._call(
            ctxt,
            "action_event_finish",
            uuid=uuid,
            event=event,
            result=result,
            traceback=traceback,
        )

    async def service_get_by_host_and_binary(
        self, ctxt: Ctx, host: str, binary: str
    ) -> Service | None:
        return await self._call(ctxt, "service_get_by_host_and_binary", host=host, binary=binary)

    async def service_create(self, ctxt: Ctx, service: Service) -> Service:
        return await self._call(ctxt, "service_create", service=service)

    async def service_update(self, ctxt: Ctx, service_id: int, updates: dict[str, Any]) -> Service:
        return await self._call(ctxt, "service_update", service_id=service_id, updates=updates)

    async def service_get_minimum_version(self, ctxt: Ctx, binary: str) -> int:
        return await self._call(ctxt, "service_get_minimum_version", binary=binary)

    async def compute_node_get_all_by_host(self, ctxt: Ctx, host: str) -> list[ComputeNode]:
        return await self._call(ctxt, "compute_node_get_all_by_host", host=host)

    async def compute_node_create(self, ctxt: Ctx, node: ComputeNode) -> ComputeNode:
        return await self._call(ctxt, "compute_node_create", node=node)

    async def compute_node_update(
        self, ctxt: Ctx, node_id: int, updates: dict[str, Any]
    ) -> ComputeNode:
        return await self._call(ctxt, "compute_node_update", node_id=node_id, updates=updates)


class ComputeTaskAPI:
    """Client of the ``compute_task`` namespace (version 1.x)."""

    def __init__(self, transport: rpc.Transport, config: Config) -> None:
        target = rpc.Target(topic=TOPIC, namespace="compute_task", version="1.0")
        self.client = Client.create(transport, target)

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
        """Cast: schedule and build (also used by computes to reschedule)."""
        kwargs: dict[str, Any] = dict(
            instances=instances,
            image=image,
            filter_properties=filter_properties,
            admin_password=admin_password,
            injected_files=injected_files or [],
            requested_networks=requested_networks,
            security_groups=security_groups or [],
            block_device_mapping=block_device_mapping or [],
            legacy_bdm=legacy_bdm,
        )
        version = "1.10"
        if request_spec is not None and self.client.can_send_version("1.10"):
            kwargs["request_spec"] = request_spec
        else:
            version = "1.5"
        await self.client.prepare(version=version).cast(ctxt, "build_instances", **kwargs)

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
        recreate: bool = False,
        on_shared_storage: bool | None = None,
        preserve_ephemeral: bool = False,
        host: str | None = None,
        request_spec: RequestSpec | None = None,
    ) -> None:
        """Cast (1.12 with request_spec, else 1.8): rebuild on ``host`` or evacuate."""
        kwargs: dict[str, Any] = dict(
            instance=instance,
            new_pass=new_pass,
            injected_files=injected_files,
            image_ref=image_ref,
            orig_image_ref=orig_image_ref,
            orig_sys_metadata=orig_sys_metadata,
            bdms=bdms,
            recreate=recreate,
            on_shared_storage=on_shared_storage,
            preserve_ephemeral=preserve_ephemeral,
            host=host,
        )
        version = "1.12"
        if self.client.can_send_version(version):
            kwargs["request_spec"] = request_spec
        else:
            version = "1.8"
        await self.client.prepare(version=version).cast(ctxt, "rebuild_instance", **kwargs)
