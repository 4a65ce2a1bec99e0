"""The virt driver seam: what a compute manager asks of a hypervisor."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec

from aionova.objects import ImageMeta, Instance


class InstanceInfo(msgspec.Struct, frozen=True):
    """What the hypervisor says about one guest."""

    state: int


SupportedInstance = tuple[str, str, str]
"""A guest the hypervisor runs: (architecture, hypervisor type, vm mode)."""


class NodeResources(msgspec.Struct, frozen=True, kw_only=True):
    """Totals a node reports to the resource tracker.

    ``supported_instances`` is Nova's key of the same name in the driver's
    available-resource dict: the resource tracker stores it in the compute node
    (Nova's ``supported_hv_specs``) and the scheduler's ImagePropertiesFilter
    matches images against it. Empty: the node accepts only images that ask for
    no architecture, hypervisor type or vm mode.
    """

    hypervisor_hostname: str
    vcpus: int
    memory_mb: int
    local_gb: int
    supported_instances: tuple[SupportedInstance, ...] = ()


@runtime_checkable
class ComputeDriver(Protocol):
    """A hypervisor. Every method may raise; the manager decides what a failure means."""

    supports_evacuate: bool

    async def init_host(self, host: str) -> None:
        """Prepare the driver for this host."""

    def get_available_nodes(self) -> list[str]:
        """Names of the nodes this driver manages."""

    def get_available_resource(self, nodename: str) -> NodeResources:
        """Totals of one node, with the guests its hypervisor runs (``supported_instances``)."""

    def list_instance_uuids(self) -> list[str]:
        """Guests present on the hypervisor."""

    def get_info(self, instance: Instance) -> InstanceInfo:
        """Power state of a guest; raises InstanceNotFound if absent."""

    def instance_on_disk(self, instance: Instance) -> bool:
        """Whether the guest's disks are reachable here (shared storage)."""

    async def spawn(self, instance: Instance, image_meta: ImageMeta | None, **kwargs: Any) -> None:
        """Create and start a guest."""

    async def destroy(self, instance: Instance, destroy_disks: bool = True) -> None:
        """Remove a guest (no error if absent)."""

    async def reboot(self, instance: Instance, reboot_type: str) -> None:
        """Reboot a guest, 'SOFT' or 'HARD'."""

    async def power_off(self, instance: Instance, shutdown_timeout: float = 0) -> None:
        """Stop a guest (clean shutdown within ``shutdown_timeout`` when > 0)."""

    async def power_on(self, instance: Instance) -> None:
        """Start a stopped guest."""

    async def rebuild(self, instance: Instance, image_meta: ImageMeta | None) -> None:
        """Re-create a guest's disk from an image and start it."""

    async def resume_state_on_host_boot(self, instance: Instance) -> None:
        """Bring back a guest the host lost when it restarted (NotImplementedError: cannot)."""
