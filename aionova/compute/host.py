"""What every part of the compute manager works with, built once by the manager."""

from __future__ import annotations

from dataclasses import dataclass

from aionova import exception
from aionova.compute.locks import KeyedLocks
from aionova.compute.resource_tracker import ResourceTracker
from aionova.config import Config
from aionova.notifications.service import ServiceNotifications
from aionova.objects import Instance, ObjectStore
from aionova.states import power_state
from aionova.virt.driver import ComputeDriver


@dataclass(frozen=True)
class ComputeHost:
    """This host: its name and settings, the conductor store, the hypervisor, the
    resource tracker, the per-instance locks (Nova's ``synchronized(uuid)``) and the
    service's notifications."""

    host: str
    config: Config
    store: ObjectStore
    driver: ComputeDriver
    rt: ResourceTracker
    locks: KeyedLocks
    notifier: ServiceNotifications

    def power_state(self, instance: Instance) -> int:
        """What the hypervisor says of the guest (NOSTATE when it has none)."""
        try:
            return self.driver.get_info(instance).state
        except exception.InstanceNotFound:
            return power_state.NOSTATE


class Part:
    """A part of the compute manager: one job (build, reboot, power, rebuild, recovery)
    on the shared ``ComputeHost``. ``host``, ``store`` and ``notifier`` are what the
    decorators of wrappers.py read."""

    def __init__(self, parts: ComputeHost) -> None:
        self.parts = parts
        self.host = parts.host
        self.store = parts.store
        self.driver = parts.driver
        self.notifier = parts.notifier
