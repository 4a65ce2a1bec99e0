"""FakeDriver: an in-memory hypervisor with power states, latency knobs and fault injection.

Faults are armed per operation for an instance uuid or an image id:
``fail`` raises ``VirtDriverError``; ``hang`` never returns (the caller's
timeout or cancellation ends it); ``crash`` leaves the guest CRASHED and raises.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from aionova import exception
from aionova.objects import ImageMeta, Instance
from aionova.states import power_state
from aionova.virt.driver import InstanceInfo, NodeResources, SupportedInstance

FaultKind = Literal["fail", "hang", "crash"]
OPERATIONS = ("spawn", "destroy", "reboot", "power_off", "power_on", "rebuild")
# What guests the fake hypervisor runs by default, as Nova's FakeDriver reports them:
# (architecture, hypervisor type, vm mode).
SUPPORTED_INSTANCES: tuple[SupportedInstance, ...] = (("x86_64", "fake", "hvm"),)


class Latency(msgspec.Struct, kw_only=True):
    """Seconds each operation takes."""

    spawn: float = 0.0
    destroy: float = 0.0
    reboot: float = 0.0
    power_off: float = 0.0
    power_on: float = 0.0
    rebuild: float = 0.0


class FakeDriver:
    """A real (in-memory) implementation of ``ComputeDriver``.

    ``supported_instances`` (constructor or attribute) is what the node reports
    the hypervisor runs; the next resource audit carries a change to the scheduler.
    """

    supports_evacuate = True

    def __init__(
        self,
        *,
        vcpus: int = 1000,
        memory_mb: int = 800000,
        local_gb: int = 600000,
        nodes: list[str] | None = None,
        latency: Latency | None = None,
        shared_storage: bool = False,
        soft_reboot_timeout: float = 0.5,
        supported_instances: Iterable[SupportedInstance] = SUPPORTED_INSTANCES,
    ) -> None:
        self.vcpus, self.memory_mb, self.local_gb = vcpus, memory_mb, local_gb
        self.supported_instances: list[SupportedInstance] = list(supported_instances)
        self._nodes = nodes
        self.latency = latency or Latency()
        self.shared_storage = shared_storage
        self.host: str | None = None
        self.guests: dict[str, int] = {}
        self._faults: dict[tuple[str, str], FaultKind] = {}
        self.calls: list[tuple[str, str]] = []
        self.running: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.soft_reboot_timeout = soft_reboot_timeout
        self.ignore_soft_shutdown: set[str] = set()
        self.reboots: list[tuple[str, str]] = []

    @classmethod
    def small(cls, **kwargs: Any) -> FakeDriver:
        """Nova's SmallFakeDriver inventory: 2 vCPU, 8192 MB, 1028 GB."""
        return cls(vcpus=2, memory_mb=8192, local_gb=1028, **kwargs)

    # -- fault injection ------------------------------------------------------
    def inject_fault(
        self,
        operation: str,
        kind: FaultKind,
        *,
        instance_uuid: str | None = None,
        image_ref: str | None = None,
    ) -> None:
        """Arm a fault for an operation on an instance, or on every instance of an image."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation}")
        key = instance_uuid or (f"image:{image_ref}" if image_ref else None)
        if key is None:
            raise ValueError("give instance_uuid or image_ref")
        self._faults[(operation, key)] = kind

    def clear_faults(self) -> None:
        self._faults.clear()

    async def _act(self, operation: str, instance: Instance) -> None:
        self.calls.append((operation, instance.uuid))
        self.running[operation] += 1
        self.peak[operation] = max(self.peak[operation], self.running[operation])
        try:
            await self._perform(operation, instance)
        finally:
            self.running[operation] -= 1

    async def _perform(self, operation: str, instance: Instance) -> None:
        delay = getattr(self.latency, operation)
        if delay:
            await asyncio.sleep(delay)
        kind = self._faults.get((operation, instance.uuid)) or self._faults.get(
            (operation, f"image:{instance.image_ref}")
        )
        if kind == "hang":
            await asyncio.Event().wait()
        if kind == "crash":
            self.guests[instance.uuid] = power_state.CRASHED
        if kind is not None:
            raise exception.VirtDriverError(
                instance_uuid=instance.uuid, reason=f"injected {kind} in {operation}"
            )

    # -- ComputeDriver ----------------------------------------------------------
    async def init_host(self, host: str) -> None:
        self.host = host

    def get_available_nodes(self) -> list[str]:
        return list(self._nodes) if self._nodes else [self.host or "fake-node"]

    def get_available_resource(self, nodename: str) -> NodeResources:
        return NodeResources(
            hypervisor_hostname=nodename,
            vcpus=self.vcpus,
            memory_mb=self.memory_mb,
            local_gb=self.local_gb,
            supported_instances=tuple(self.supported_instances),
        )

    def list_instance_uuids(self) -> list[str]:
        return list(self.guests)

    def get_info(self, instance: Instance) -> InstanceInfo:
        if instance.uuid not in self.guests:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return InstanceInfo(state=self.guests[instance.uuid])

    def instance_on_disk(self, instance: Instance) -> bool:
        return self.shared_storage

    async def spawn(self, instance: Instance, image_meta: ImageMeta | None, **kwargs: Any) -> None:
        if instance.uuid in self.guests:
            raise exception.InstanceExists(name=instance.uuid)
        await self._act("spawn", instance)
        self.guests[instance.uuid] = power_state.RUNNING

    async def destroy(self, instance: Instance, destroy_disks: bool = True) -> None:
        await self._act("destroy", instance)
        self.guests.pop(instance.uuid, None)

    async def reboot(self, instance: Instance, reboot_type: str) -> None:
        """SOFT: a clean shutdown within ``soft_reboot_timeout`` then power on; a guest that
        ignores it (``ignore_soft_shutdown``) is hard-rebooted after the timeout."""
        self.get_info(instance)
        await self._act("reboot", instance)
        performed = "HARD"
        if reboot_type == "SOFT":
            if instance.uuid in self.ignore_soft_shutdown:
                await asyncio.sleep(self.soft_reboot_timeout)
            else:
                performed = "SOFT"
        self.guests[instance.uuid] = power_state.SHUTDOWN
        self.guests[instance.uuid] = power_state.RUNNING
        self.reboots.append((instance.uuid, performed))

    async def power_off(self, instance: Instance, shutdown_timeout: float = 0) -> None:
        self.get_info(instance)
        await self._act("power_off", instance)
        self.guests[instance.uuid] = power_state.SHUTDOWN

    async def power_on(self, instance: Instance) -> None:
        self.get_info(instance)
        await self._act("power_on", instance)
        self.guests[instance.uuid] = power_state.RUNNING

    async def resume_state_on_host_boot(self, instance: Instance) -> None:
        """Bring a guest found off after a host restart back to running (a hard reboot, as
        libvirt does: faults armed for ``reboot`` apply). No guest at all: InstanceNotFound."""
        self.get_info(instance)
        await self._act("reboot", instance)
        self.guests[instance.uuid] = power_state.RUNNING

    async def rebuild(self, instance: Instance, image_meta: ImageMeta | None) -> None:
        await self._act("rebuild", instance)
        self.guests[instance.uuid] = power_state.RUNNING
