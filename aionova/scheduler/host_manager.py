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
from aionova.db.rows import fmt_time
from aionova.objects import RequestSpec, Service
from aionova.objects.store import ObjectStore
from aionova.scheduler.host_state import HostState
from aionova.scheduler.utils import request_is_rebuild

COMPUTE_BINARY = "nova-compute"


class HostManager:
    """Loads and narrows host states."""

    def __init__(self, db: ObjectStore) -> None:
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
                known = self.host_states.get(key)
                if known is None:
                    known = self.host_states[key] = HostState(*key)
                    known.service = self.services.get(node.host)
                    self._states_by_host.setdefault(node.host, []).append(known)
                known.update_from_compute_node(node)
                self._nodes_since = _later(self._nodes_since, node.updated_at)
            allocated = await self.db.allocation_usage_by_node(ctxt)
            for state in self.host_states.values():
                if state.node_id is not None:
                    state.use_allocations(allocated.get(state.node_id, (0, 0, 0)))
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
