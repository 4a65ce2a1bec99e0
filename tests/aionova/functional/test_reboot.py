"""Soft and hard reboot (spec §1.3.2-1.3.3, §9 scenarios 11-20; seed 003)."""

from __future__ import annotations

import pytest

from aionova import exception
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.states import power_state, task_states, vm_states
from tests.aionova.conftest import boot, events_of, wait_for, wait_state


async def test_soft_reboot_happy_path(cloud: AllInOne, ctxt: RequestContext) -> None:
    """REBOOTING (api) -> PENDING -> STARTED -> ACTIVE/None; a clean soft reboot."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    assert cloud.api is not None
    await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "SOFT")
    seen = await cloud.db.instance_get(None, inst.uuid)
    assert seen.task_state in task_states.soft_reboot_states or seen.task_state is None
    await wait_for(lambda: _rebooted(cloud, "cmp1", inst.uuid))
    done = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert done.power_state == power_state.RUNNING
    assert cloud.driver("cmp1").reboots == [(inst.uuid, "SOFT")]
    assert await events_of(cloud, inst.uuid, "reboot") == {"compute_reboot_instance": "Success"}


async def test_soft_reboot_falls_back_to_hard_after_timeout(cloud, ctxt) -> None:
    """A guest ignoring the clean shutdown is hard-rebooted once the soft timeout passes."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    driver = cloud.driver("cmp1")
    driver.soft_reboot_timeout = 0.1
    driver.ignore_soft_shutdown.add(inst.uuid)
    await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "soft")
    await wait_for(lambda: _rebooted(cloud, "cmp1", inst.uuid))
    await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert driver.reboots == [(inst.uuid, "HARD")]


async def test_hard_reboot_of_stopped_instance_makes_it_active(cloud, ctxt) -> None:
    """Scenario: hard reboot is allowed from STOPPED and ends ACTIVE/RUNNING."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    await cloud.api.stop(ctxt, await cloud.api.get(ctxt, inst.uuid))
    await wait_state(cloud, inst.uuid, vm_states.STOPPED)
    with pytest.raises(exception.InstanceInvalidState):
        await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "SOFT")
    await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "HARD")
    await wait_for(lambda: _rebooted(cloud, "cmp1", inst.uuid))
    done = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert done.power_state == power_state.RUNNING


async def test_reboot_refusals(cloud: AllInOne, ctxt: RequestContext) -> None:
    """Soft refused while any task runs (incl. a hard reboot); hard refused over a
    non-reboot task; hard pre-empts a soft reboot in progress; locked refused; bad type."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    driver = cloud.driver("cmp1")
    driver.inject_fault("reboot", "hang", instance_uuid=inst.uuid)
    api = cloud.api
    await api.reboot(ctxt, await api.get(ctxt, inst.uuid), "SOFT")
    await wait_state(cloud, inst.uuid, vm_states.ACTIVE, task_states.REBOOT_STARTED)
    with pytest.raises(exception.InstanceInvalidState, match="task_state"):
        await api.reboot(ctxt, await api.get(ctxt, inst.uuid), "SOFT")
    await api.reboot(ctxt, await api.get(ctxt, inst.uuid), "HARD")  # pre-empts
    current = await api.get(ctxt, inst.uuid)
    assert current.task_state == task_states.REBOOTING_HARD
    with pytest.raises(exception.InstanceInvalidState):
        await api.reboot(ctxt, current, "SOFT")
    with pytest.raises(exception.InvalidRequest):
        await api.reboot(ctxt, current, "WARM")
    other = (await boot(cloud, ctxt))[0]
    await api.lock(ctxt, await api.get(ctxt, other.uuid))
    with pytest.raises(exception.InstanceIsLocked):
        await api.reboot(ctxt, await api.get(ctxt, other.uuid), "HARD")
    await api.reboot(ctxt.elevated(), await api.get(ctxt, other.uuid), "HARD")  # admin may
    await wait_for(lambda: _rebooted(cloud, "cmp1", other.uuid))
    await wait_state(cloud, other.uuid, vm_states.ACTIVE)
    third = (await boot(cloud, ctxt))[0]
    await api.stop(ctxt, await api.get(ctxt, third.uuid))
    with pytest.raises(exception.InstanceInvalidState):  # powering-off is not ALLOW_REBOOT
        await api.reboot(ctxt, await api.get(ctxt, third.uuid), "HARD")
    await cloud.computes.pop("cmp1").kill()  # the hung reboot would stall a graceful stop


async def test_reboot_failure_with_guest_running_keeps_active(cloud, ctxt) -> None:
    """Driver error but the guest still runs: fault recorded, ACTIVE/None (seed 003)."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    cloud.driver("cmp1").inject_fault("reboot", "fail", instance_uuid=inst.uuid)
    await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "SOFT")
    await wait_for(lambda: _has_fault(cloud, inst.uuid))
    done = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert done.power_state == power_state.RUNNING


async def test_reboot_failure_with_guest_down_sets_error(cloud, ctxt) -> None:
    """Driver error and the guest is not running: ERROR, task reverted to None, fault, Error
    event."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    cloud.driver("cmp1").inject_fault("reboot", "crash", instance_uuid=inst.uuid)
    await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "HARD")
    done = await wait_state(cloud, inst.uuid, vm_states.ERROR)
    assert done.power_state == power_state.CRASHED
    fault = await cloud.api.get_fault(ctxt, done)
    assert fault is not None and "injected crash" in fault.message
    await wait_for(lambda: _event_is(cloud, inst.uuid, "reboot", "Error"))


async def _rebooted(cloud: AllInOne, host: str, uuid: str) -> bool:
    return any(u == uuid for u, _ in cloud.driver(host).reboots)


async def _has_fault(cloud: AllInOne, uuid: str) -> bool:
    return await cloud.db.instance_fault_get_latest(None, uuid) is not None


async def _event_is(cloud: AllInOne, uuid: str, action: str, result: str) -> bool:
    events = await events_of(cloud, uuid, action)
    return events.get("compute_reboot_instance") == result
