"""Host filters (Newton's RAM/Disk/Core filters record the limits the compute claim uses)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from aionova.objects import RequestSpec

if TYPE_CHECKING:
    from aionova.scheduler.host_manager import HostState
    from aionova.servicegroup import ServiceGroupAPI


class BaseHostFilter(ABC):
    """``host_passes`` decides; rebuild checks only run filters with RUN_ON_REBUILD."""

    RUN_ON_REBUILD: ClassVar[bool] = False

    @abstractmethod
    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        """True when ``host`` may take the request."""


class RetryFilter(BaseHostFilter):
    """Skip [host, node] pairs already tried for this request."""

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        if spec.retry is None:
            return True
        return [host.host, host.nodename] not in spec.retry.hosts


class ComputeFilter(BaseHostFilter):
    """Only enabled hosts whose service is up."""

    def __init__(self, servicegroup: ServiceGroupAPI) -> None:
        self.servicegroup = servicegroup

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        service = host.service
        if service is None or service.disabled:
            return False
        return self.servicegroup.service_is_up(service)


class RamFilter(BaseHostFilter):
    """Fits in total x ram_allocation_ratio - used, and in the physical RAM."""

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        requested = spec.flavor.memory_mb
        total = host.total_usable_ram_mb
        limit = total * host.ram_allocation_ratio
        used = total - host.free_ram_mb
        if total < requested or limit - used < requested:
            return False
        host.limits["memory_mb"] = limit
        return True


class DiskFilter(BaseHostFilter):
    """Root + ephemeral (+ swap) fits in total x disk_allocation_ratio - used."""

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        f = spec.flavor
        requested_mb = 1024 * (f.root_gb + f.ephemeral_gb) + f.swap
        total_mb = host.total_usable_disk_gb * 1024
        limit_mb = total_mb * host.disk_allocation_ratio
        used_mb = total_mb - host.free_disk_mb
        if total_mb < requested_mb or limit_mb - used_mb < requested_mb:
            return False
        host.limits["disk_gb"] = limit_mb / 1024
        return True


class CoreFilter(BaseHostFilter):
    """vCPUs fit in total x cpu_allocation_ratio - used (unknown totals pass)."""

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        if not host.vcpus_total:
            return True
        requested = spec.flavor.vcpus
        limit = host.vcpus_total * host.cpu_allocation_ratio
        if requested > host.vcpus_total or limit - host.vcpus_used < requested:
            return False
        host.limits["vcpu"] = limit
        return True


def build_filters(names: list[str], servicegroup: ServiceGroupAPI) -> list[BaseHostFilter]:
    """Instantiate the enabled filters by class name."""
    available: dict[str, BaseHostFilter] = {
        "RetryFilter": RetryFilter(),
        "ComputeFilter": ComputeFilter(servicegroup),
        "RamFilter": RamFilter(),
        "DiskFilter": DiskFilter(),
        "CoreFilter": CoreFilter(),
    }
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"unknown scheduler filters: {unknown}")
    return [available[n] for n in names]
