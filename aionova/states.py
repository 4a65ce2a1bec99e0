"""The three state axes of an instance: vm_state, task_state and power_state (Nova's values)."""

from __future__ import annotations


class vm_states:
    """Stable states: what the user should expect when no task runs."""

    ACTIVE = "active"
    BUILDING = "building"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    RESCUED = "rescued"
    RESIZED = "resized"
    SOFT_DELETED = "soft-delete"
    DELETED = "deleted"
    ERROR = "error"
    SHELVED = "shelved"
    SHELVED_OFFLOADED = "shelved_offloaded"

    ALLOW_SOFT_REBOOT = (ACTIVE,)
    ALLOW_HARD_REBOOT = (ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR)


def allow_resource_removal(vm_state: str | None, task_state: str | None) -> bool:
    """True when the resource tracker stops counting an instance in this state."""
    return vm_state == vm_states.DELETED or (
        vm_state == vm_states.SHELVED_OFFLOADED and task_state != task_states.SPAWNING
    )


class task_states:
    """Transient operations; None means idle."""

    SCHEDULING = "scheduling"
    BLOCK_DEVICE_MAPPING = "block_device_mapping"
    NETWORKING = "networking"
    SPAWNING = "spawning"
    REBOOTING = "rebooting"
    REBOOT_PENDING = "reboot_pending"
    REBOOT_STARTED = "reboot_started"
    REBOOTING_HARD = "rebooting_hard"
    REBOOT_PENDING_HARD = "reboot_pending_hard"
    REBOOT_STARTED_HARD = "reboot_started_hard"
    REBUILDING = "rebuilding"
    REBUILD_BLOCK_DEVICE_MAPPING = "rebuild_block_device_mapping"
    REBUILD_SPAWNING = "rebuild_spawning"
    POWERING_OFF = "powering-off"
    POWERING_ON = "powering-on"
    DELETING = "deleting"
    SOFT_DELETING = "soft-deleting"
    MIGRATING = "migrating"
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    SUSPENDING = "suspending"
    RESUMING = "resuming"

    BUILD_STATES = (SCHEDULING, BLOCK_DEVICE_MAPPING, NETWORKING, SPAWNING)
    soft_reboot_states = (REBOOTING, REBOOT_PENDING, REBOOT_STARTED)
    hard_reboot_states = (REBOOTING_HARD, REBOOT_PENDING_HARD, REBOOT_STARTED_HARD)
    rebuild_states = (REBUILDING, REBUILD_BLOCK_DEVICE_MAPPING, REBUILD_SPAWNING)
    ALLOW_REBOOT = (
        None,
        REBOOTING,
        REBOOT_PENDING,
        REBOOT_STARTED,
        RESUMING,
        REBOOTING_HARD,
        UNPAUSING,
        PAUSING,
        SUSPENDING,
    )


class power_state:
    """What the hypervisor reported, as Nova's integers."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7

    NAMES = {0: "pending", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed", 7: "suspended"}


_STATUS = {
    vm_states.ACTIVE: "ACTIVE",
    vm_states.BUILDING: "BUILD",
    vm_states.PAUSED: "PAUSED",
    vm_states.SUSPENDED: "SUSPENDED",
    vm_states.STOPPED: "SHUTOFF",
    vm_states.RESCUED: "RESCUE",
    vm_states.RESIZED: "VERIFY_RESIZE",
    vm_states.SOFT_DELETED: "SOFT_DELETED",
    vm_states.DELETED: "DELETED",
    vm_states.ERROR: "ERROR",
    vm_states.SHELVED: "SHELVED",
    vm_states.SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
}


def api_status(vm_state: str, task_state: str | None) -> str:
    """The API's ``status`` for a pair of states (common.py's state map)."""
    if vm_state == vm_states.ACTIVE:
        if task_state in task_states.soft_reboot_states:
            return "REBOOT"
        if task_state in task_states.hard_reboot_states:
            return "HARD_REBOOT"
        if task_state == task_states.MIGRATING:
            return "MIGRATING"
    if vm_state in (vm_states.ACTIVE, vm_states.STOPPED, vm_states.ERROR) and (
        task_state in task_states.rebuild_states
    ):
        return "REBUILD"
    return _STATUS.get(vm_state, "UNKNOWN")
