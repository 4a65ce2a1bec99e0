"""HostManager: the scheduler's in-memory view of compute nodes and services.

The view is refreshed incrementally from the database (rows changed since the
last refresh). Between refreshes the scheduler consumes what it hands out, so
a burst of requests spreads instead of piling onto one host. A compute node
row newer than the view replaces it (the compute's claims are authoritative).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aionova.context import RequestContext
from aionova.db import Database
from aionova.db.core import fmt_time
from aionova.objects import ComputeNode, RequestSpec, Service
from aionova.scheduler.filters import request_is_rebuild

COMPUTE_BINARY = "nova-compute"


class HostState:
    """Mutable resources of one (host, node) as the scheduler sees them."""

    def __init__(self, host: str, nodename: str) -> None:
        self.host, self.nodename = host, nodename
        self.total_usable_ram_mb = 0
        self.free_ram_mb = 0
        self.total_usable_disk_gb = 0
        self.free_disk_mb = 0
        self.vcpus_total = 0
        self.vcpus_used = 0
        self.num_instances = 0
        self.cpu_allocation_ratio = 16.0
        self.ram_allocation_ratio = 1.5
        self.disk_allocation_ratio = 1.0
        self.updated: str | None = None
        self.service: Service | None = None
        self.limits: dict[str, float] = {}
        # (arch, hv_type, vm_mode) guests the hypervisor runs, as its compute reports
        # them in the compute node; none until the node is read.
        self.supported_instances: list[tuple[str, str, str]] = []

    def update_from_compute_node(self, node: ComputeNode) -> None:
        """Take the compute's report if it is newer than what we have."""
        stamp = fmt_time(node.updated_at) if node.updated_at else None
        if self.updated is not None and stamp is not None and stamp <= self.updated:
            return
        self.updated = stamp
        self.total_usable_ram_mb = node.memory_mb
        self.free_ram_mb = node.free_ram_mb
        self.total_usable_disk_gb = node.local_gb
        self.free_disk_mb = node.free_disk_gb * 1024
        self.vcpus_total, self.vcpus_used = node.vcpus, node.vcpus_used
        self.num_instances = node.running_vms
        self.cpu_allocation_ratio = node.cpu_allocation_ratio
        self.ram_allocation_ratio = node.ram_allocation_ratio
        self.disk_allocation_ratio = node.disk_allocation_ratio
        self.supported_instances = list(node.supported_instances)

    def consume_from_request(self, spec: RequestSpec) -> None:
        """Account for an instance just placed here."""
        f = spec.flavor
        self.free_ram_mb -= f.memory_mb
        self.free_disk_mb -= 1024 * (f.root_gb + f.ephemeral_gb) + f.swap
        self.vcpus_used += f.vcpus
        self.num_instances += 1

    def __repr__(self) -> str:
        return f"<HostState {self.host}/{self.nodename} ram={self.free_ram_mb}>"


class HostManager:
    """Loads and narrows host states."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.host_states: dict[tuple[str, str], HostState] = {}
        self.services: dict[str, Service] = {}
        self._states_by_host: dict[str, list[HostState]] = {}
        self._nodes_since: str | None = None
        self._services_since: str | None = None
        self._lock = asyncio.Lock()
        self._generation = 0

    async def refresh(self, ctxt: RequestContext) -> None:
        """Read rows changed since the last refresh (one refresh serves all waiters)."""
        wanted = self._generation + 1
        async with self._lock:
            if self._generation >= wanted:
                return
            nodes = await self.db.compute_node_get_all(ctxt, since=self._nodes_since)
            services = await self.db.service_get_all(
                ctxt, COMPUTE_BINARY, since=self._services_since
            )
            for service in services:
                self.services[service.host] = service
                self._services_since = _later(self._services_since, service.updated_at)
                for state in self._states_by_host.get(service.host, ()):
                    state.service = service
            for node in nodes:
                key = (node.host, node.hypervisor_hostname)
                state = self.host_states.get(key)
                if state is None:
                    state = self.host_states[key] = HostState(*key)
                    state.service = self.services.get(node.host)
                    self._states_by_host.setdefault(node.host, []).append(state)
                state.update_from_compute_node(node)
                self._nodes_since = _later(self._nodes_since, node.updated_at)
            self._generation += 1

    def candidates(self, spec: RequestSpec) -> tuple[list[HostState], bool]:
        """Hosts left after requested_destination, ignore_hosts and force_hosts/nodes.

        Returns the hosts and whether filters must still run: not when forced, unless
        the request is a rebuild check (which forces the instance's own host).
        """
        hosts: list[Any] = list(self.host_states.values())
        dest = spec.requested_destination
        if dest is not None:
            hosts = [h for h in hosts if h.host == dest.host and dest.node in (None, h.nodename)]
        if spec.ignore_hosts:
            ignored = {h.lower() for h in spec.ignore_hosts}
            hosts = [h for h in hosts if h.host.lower() not in ignored]
        forced = False
        if spec.force_hosts:
            wanted = {h.lower() for h in spec.force_hosts}
            hosts, forced = [h for h in hosts if h.host.lower() in wanted], True
        if spec.force_nodes:
            wanted_nodes = {n.lower() for n in spec.force_nodes}
            hosts, forced = [h for h in hosts if h.nodename.lower() in wanted_nodes], True
        return hosts, not forced or request_is_rebuild(spec)


def _later(current: str | None, stamp: Any) -> str | None:
    if stamp is None:
        return current
    text = fmt_time(stamp)
    return text if current is None or text > current else current
