"""Host filters (Newton's RAM/Disk/Core filters record the limits the compute claim uses).

A rebuild check (scheduler hint ``_nova_check_type=['rebuild']``) re-validates the
instance's own host for a new image: only filters with ``RUN_ON_REBUILD`` run there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from aionova.objects import RequestSpec
from aionova.scheduler.host_state import HostState
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


# Aliases Nova's canonicalize() maps to the canonical architecture / vm mode.
_ALIASES = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "i386": "i686",
    "x86": "i686",
    "hv": "hvm",
    "baremetal": "hvm",
    "pv": "xen",
}
# (property, legacy name) for each member of a supported-instance triple.
_IMAGE_PROPS = (
    ("hw_architecture", "architecture"),
    ("img_hv_type", "hypervisor_type"),
    ("hw_vm_mode", "vm_mode"),
)


class ImagePropertiesFilter(BaseHostFilter):
    """The image's architecture / hypervisor type / vm mode must be one the host supports.

    An image asking for none of them (``hw_architecture``, ``img_hv_type``,
    ``hw_vm_mode``, or their legacy names) fits anywhere; one that does needs a host
    advertising a matching ``(arch, hv_type, vm_mode)`` in ``supported_instances``.
    """

    RUN_ON_REBUILD = True

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        props = spec.image.properties if spec.image is not None else {}
        if not props:
            return True
        wanted = tuple(
            _canonical(props.get(name, props.get(legacy))) for name, legacy in _IMAGE_PROPS
        )
        if not any(wanted):
            return True
        return any(
            all(w is None or w == s for w, s in zip(wanted, supported, strict=True))
            for supported in host.supported_instances
        )


def _canonical(value: Any) -> str | None:
    if not value:
        return None
    text = str(value).lower()
    return _ALIASES.get(text, text)


def build_filters(names: list[str], servicegroup: ServiceGroupAPI) -> list[BaseHostFilter]:
    """Instantiate the enabled filters by class name."""
    available: dict[str, BaseHostFilter] = {
        "RetryFilter": RetryFilter(),
        "ComputeFilter": ComputeFilter(servicegroup),
        "RamFilter": RamFilter(),
        "DiskFilter": DiskFilter(),
        "CoreFilter": CoreFilter(),
        "ImagePropertiesFilter": ImagePropertiesFilter(),
    }
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"unknown scheduler filters: {unknown}")
    return [available[n] for n in names]
