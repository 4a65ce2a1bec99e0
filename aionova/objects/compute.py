"""Services and compute nodes."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Protocol

from aionova import exception
from aionova.context import RequestContext
from aionova.objects.base import NovaObject

Ctx = RequestContext | None


class ServiceStore(Protocol):
    """What a Service's own methods need of its store (part of ``ObjectStore``)."""

    async def service_update(self, ctxt: Ctx, service_id: int, updates: dict[str, Any]) -> Service:
        """Write fields; a report_count change is a heartbeat (sets last_seen_up)."""
        ...


class ComputeNodeStore(Protocol):
    """What a ComputeNode's own methods need of its store (part of ``ObjectStore``)."""

    async def compute_node_create(self, ctxt: Ctx, node: ComputeNode) -> ComputeNode:
        """Insert a compute node."""
        ...

    async def compute_node_update(
        self, ctxt: Ctx, node_id: int, updates: dict[str, Any]
    ) -> ComputeNode:
        """Write fields (updated_at is set)."""
        ...


class Service(NovaObject[ServiceStore], kw_only=True):
    """A running service (one row per host and binary); heartbeats bump report_count."""

    VERSION: ClassVar[str] = "1.1"
    id: int | None = None
    uuid: str | None = None
    host: str
    binary: str
    topic: str | None = None
    report_count: int = 0
    disabled: bool = False
    disabled_reason: str | None = None
    forced_down: bool = False
    version: int = 0
    last_seen_up: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    async def save(self) -> None:
        """Write changed fields (a report_count increase refreshes last_seen_up)."""
        changes = self.obj_what_changed()
        if not changes:
            return
        if self.id is None:
            raise exception.ServiceNotFound(service_id=None)
        self.obj_refresh_from(await self.store.service_update(self.context, self.id, changes))


class ComputeNode(NovaObject[ComputeNodeStore], kw_only=True):
    """A hypervisor node: its totals, usage and allocation ratios, and the guests its
    hypervisor runs (``supported_instances``: (arch, hv_type, vm_mode); Nova's
    ``supported_hv_specs``)."""

    # 1.1: supported_instances; 1.2: reserved_* (what the host keeps for itself)
    VERSION: ClassVar[str] = "1.2"
    id: int | None = None
    uuid: str
    host: str
    hypervisor_hostname: str
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int = 0
    memory_mb_used: int = 0
    local_gb_used: int = 0
    free_ram_mb: int = 0
    free_disk_gb: int = 0
    running_vms: int = 0
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    supported_instances: list[tuple[str, str, str]] = []
    reserved_memory_mb: int = 0
    reserved_disk_gb: int = 0
    reserved_vcpus: int = 0
    updated_at: dt.datetime | None = None

    async def save(self) -> None:
        """Create the row if new, else write changed fields."""
        if self.id is None:
            fresh = await self.store.compute_node_create(self.context, self)
        else:
            changes = self.obj_what_changed()
            if not changes:
                return
            fresh = await self.store.compute_node_update(self.context, self.id, changes)
        self.obj_refresh_from(fresh)
