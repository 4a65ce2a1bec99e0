"""ResourceTracker: this host's usage, claims, and the periodic audit, under one lock."""

from __future__ import annotations

import asyncio
import contextlib
import uuid as uuidlib
from typing import Any

from aionova import exception
from aionova.compute.claims import Claim, instance_usage, test_claim
from aionova.config import Config
from aionova.context import RequestContext
from aionova.objects import ComputeNode, Instance, Migration, ObjectStore
from aionova.states import allow_resource_removal
from aionova.virt.driver import ComputeDriver, NodeResources


class ResourceTracker:
    """Usage of this host's nodes; ``lock`` is Nova's COMPUTE_RESOURCE_SEMAPHORE."""

    def __init__(
        self, host: str, driver: ComputeDriver, store: ObjectStore, config: Config
    ) -> None:
        self.host, self.driver, self.store, self.config = host, driver, store, config
        self.lock = asyncio.Lock()
        self.compute_nodes: dict[str, ComputeNode] = {}
        self.tracked: dict[str, str] = {}  # instance uuid -> node
        self.moving: dict[str, tuple[str, Instance]] = {}  # incoming evacuations

    async def instance_claim(
        self,
        ctxt: RequestContext,
        instance: Instance,
        nodename: str | None,
        limits: dict[str, Any] | None,
    ) -> Claim:
        """Test and record a build's usage, and tag the instance with host and node.

        Atomic with respect to the audit. Raises ``ComputeResourcesUnavailable``.
        """
        async with self.lock:
            nodename = nodename or next(iter(self.compute_nodes), None)
            node = self.compute_nodes.get(nodename or "")
            if node is None:
                raise exception.ComputeResourcesUnavailable(
                    reason=f"Attempt to claim resources on unknown node {nodename}"
                )
            test_claim(node, instance, limits)
            instance.host, instance.node, instance.launched_on = self.host, nodename, self.host
            await instance.save()
            self._add(node, instance, +1)
            self.tracked[instance.uuid] = node.hypervisor_hostname
            await node.save()
            return Claim(ctxt, instance, node.hypervisor_hostname, self)

    async def abort_instance_claim(
        self, ctxt: RequestContext, instance: Instance, nodename: str
    ) -> None:
        """Undo a claim: usage removed, host/node cleared."""
        async with self.lock:
            node = self.compute_nodes.get(nodename)
            if node is not None and self.tracked.pop(instance.uuid, None) is not None:
                self._add(node, instance, -1)
                await node.save()
            instance.host = instance.node = instance.launched_on = None
            with contextlib.suppress(exception.InstanceNotFound):
                await instance.save()

    # -- evacuation claims (spec §5.4) -------------------------------------------------
    async def rebuild_claim(
        self,
        ctxt: RequestContext,
        instance: Instance,
        nodename: str,
        limits: dict[str, Any] | None,
        migration: Migration | None,
    ) -> Migration:
        """Test and record an evacuation's usage here; the migration becomes pre-migrating.

        Without a migration (a 4.0 message) one is created. ``ComputeResourcesUnavailable``
        if it does not fit.
        """
        async with self.lock:
            node = self.compute_nodes.get(nodename)
            if node is None:
                raise exception.ComputeResourcesUnavailable(
                    reason=f"Attempt to claim resources on unknown node {nodename}"
                )
            test_claim(node, instance, limits)
            if migration is None:
                migration = await self.store.migration_create(
                    ctxt,
                    Migration(
                        uuid=str(uuidlib.uuid4()),
                        instance_uuid=instance.uuid,
                        source_compute=instance.host,
                        source_node=instance.node,
                        status="pre-migrating",
                        migration_type="evacuation",
                    ),
                )
            migration.dest_compute = migration.dest_host = self.host
            migration.dest_node = nodename
            migration.status = "pre-migrating"
            await migration.save()
            self._add(node, instance, +1)
            self.moving[instance.uuid] = (nodename, instance)
            await node.save()
            return migration

    async def drop_move_claim(self, ctxt: RequestContext, instance: Instance) -> None:
        """Give back an evacuation's usage (it failed)."""
        async with self.lock:
            entry = self.moving.pop(instance.uuid, None)
            node = self.compute_nodes.get(entry[0]) if entry else None
            if node is not None:
                self._add(node, instance, -1)
                await node.save()

    async def finish_evacuation(
        self, ctxt: RequestContext, instance: Instance, nodename: str, migration: Migration
    ) -> None:
        """Under the lock: the instance moves here (host/node), then the migration is done."""
        async with self.lock:
            instance.host, instance.node = self.host, nodename
            await instance.save()
            self.moving.pop(instance.uuid, None)
            self.tracked[instance.uuid] = nodename
            migration.status = "done"
            await migration.save()

    async def drop_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        """Stop counting a deleted instance."""
        async with self.lock:
            nodename = self.tracked.pop(instance.uuid, None)
            node = self.compute_nodes.get(nodename or "")
            if node is not None:
                self._add(node, instance, -1)
                await node.save()

    def _add(self, node: ComputeNode, instance: Instance, sign: int) -> None:
        memory, disk, vcpus = instance_usage(instance)
        node.memory_mb_used += sign * memory
        node.local_gb_used += sign * disk
        node.vcpus_used += sign * vcpus
        node.running_vms += sign
        node.free_ram_mb = node.memory_mb - node.memory_mb_used
        node.free_disk_gb = node.local_gb - node.local_gb_used

    async def update_available_resource(self, ctxt: RequestContext) -> None:
        """The audit: recompute every node's usage from the instances placed on it."""
        for nodename in self.driver.get_available_nodes():
            resources = self.driver.get_available_resource(nodename)
            async with self.lock:
                node = await self._init_compute_node(ctxt, resources)
                instances = await self.store.instance_get_all_by_host(ctxt, self.host, nodename)
                self._reset(node, resources)
                for uuid, tracked_node in list(self.tracked.items()):
                    if tracked_node == nodename:
                        del self.tracked[uuid]
                for instance in instances:
                    if not allow_resource_removal(instance.vm_state, instance.task_state):
                        self._add(node, instance, +1)
                        self.tracked[instance.uuid] = nodename
                for uuid, (move_node, instance) in self.moving.items():
                    if move_node == nodename and uuid not in self.tracked:
                        self._add(node, instance, +1)  # an evacuation still arriving
                await node.save()

    def _reset(self, node: ComputeNode, resources: NodeResources) -> None:
        d = self.config.DEFAULT
        node.vcpus, node.memory_mb, node.local_gb = (
            resources.vcpus,
            resources.memory_mb,
            resources.local_gb,
        )
        node.reserved_memory_mb = d.reserved_host_memory_mb
        node.reserved_disk_gb = d.reserved_host_disk_mb // 1024
        node.reserved_vcpus = d.reserved_host_cpus
        node.memory_mb_used = node.reserved_memory_mb
        node.local_gb_used = node.reserved_disk_gb
        node.vcpus_used = node.reserved_vcpus
        node.running_vms = 0
        node.free_ram_mb = node.memory_mb - node.memory_mb_used
        node.free_disk_gb = node.local_gb - node.local_gb_used
        node.cpu_allocation_ratio = d.cpu_allocation_ratio
        node.ram_allocation_ratio = d.ram_allocation_ratio
        node.disk_allocation_ratio = d.disk_allocation_ratio
        # What the hypervisor runs, for the scheduler's ImagePropertiesFilter.
        node.supported_instances = list(resources.supported_instances)

    async def _init_compute_node(
        self, ctxt: RequestContext, resources: NodeResources
    ) -> ComputeNode:
        name = resources.hypervisor_hostname
        node = self.compute_nodes.get(name)
        if node is not None:
            return node
        for existing in await self.store.compute_node_get_all_by_host(ctxt, self.host):
            if existing.hypervisor_hostname == name:
                node = existing
        if node is None:
            node = ComputeNode(
                uuid=str(uuidlib.uuid4()),
                host=self.host,
                hypervisor_hostname=name,
                vcpus=resources.vcpus,
                memory_mb=resources.memory_mb,
                local_gb=resources.local_gb,
            ).bind(ctxt, self.store)
            self._reset(node, resources)
            await node.save()
        self.compute_nodes[name] = node
        return node
