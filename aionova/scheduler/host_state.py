"""HostState: one (host, node) as the scheduler sees it, between database refreshes."""

from __future__ import annotations

from aionova.db.rows import fmt_time
from aionova.objects import ComputeNode, RequestSpec, Service


class HostState:
    """Mutable resources of one (host, node) as the scheduler sees them."""

    def __init__(self, host: str, nodename: str) -> None:
        self.host, self.nodename = host, nodename
        self.node_id: int | None = None
        self.reserved: tuple[int, int, int] = (0, 0, 0)  # memory MB, disk GB, vCPUs
        self.reported: tuple[int, int, int] = (0, 0, 0)  # used, as the compute said
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
        self.node_id = node.id
        self.reserved = (node.reserved_memory_mb, node.reserved_disk_gb, node.reserved_vcpus)
        self.reported = (node.memory_mb_used, node.local_gb_used, node.vcpus_used)
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

    def use_allocations(self, allocated: tuple[int, int, int]) -> None:
        """What the database's allocations say this node uses (what racing schedulers
        claimed), when that is more than the compute reported."""
        memory, disk, vcpus = (
            max(rep, res + alloc)
            for rep, res, alloc in zip(self.reported, self.reserved, allocated, strict=True)
        )
        self.free_ram_mb = self.total_usable_ram_mb - memory
        self.free_disk_mb = (self.total_usable_disk_gb - disk) * 1024
        self.vcpus_used = vcpus

    def consume_from_request(self, spec: RequestSpec) -> None:
        """Account for an instance just placed here."""
        f = spec.flavor
        self.free_ram_mb -= f.memory_mb
        self.free_disk_mb -= 1024 * (f.root_gb + f.ephemeral_gb) + f.swap
        self.vcpus_used += f.vcpus
        self.num_instances += 1

    def __repr__(self) -> str:
        return f"<HostState {self.host}/{self.nodename} ram={self.free_ram_mb}>"
