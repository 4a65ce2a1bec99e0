"""Crash recovery: kill a compute mid-operation, restart it (spec §6, §9 scenarios 57-68)."""

from __future__ import annotations

import uuid as uuidlib

import pytest

from aionova import exception
from aionova.compute.manager import ComputeManager
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.objects import ImageMeta, Instance
from aionova.states import power_state, task_states, vm_states
from aionova.virt.fake import FakeDriver
from tests.aionova.conftest import IMAGE, boot, wait_for, wait_state

TRANSITIONAL = {
    *task_states.BUILD_STATES,
    *task_states.soft_reboot_states,
    *task_states.hard_reboot_states,
    *task_states.rebuild_states,
    task_states.POWERING_OFF,
    task_states.POWERING_ON,
    task_states.DELETING,
}


async def _in_state(cloud: AllInOne, uuid: str, task: str) -> bool:
    return (await cloud.db.instance_get(None, uuid)).task_state == task


async def _called(driver: FakeDriver, op: str, uuid: str) -> bool:
    return (op, uuid) in driver.calls


async def test_kill_mid_operation_then_restart(cloud: AllInOne, ctxt: RequestContext) -> None:
    """Killed in the middle of a build, soft reboot, hard reboot, rebuild, stop, start and
    delete; after the restart every instance is where the §6.2 table puts it and none is
    left in a transitional task_state."""
    await cloud.add_compute("cmp1")
    driver = cloud.driver("cmp1")
    api = cloud.api
    assert api is not None
    soft, hard, rebuilt, stopping, starting, deleted = await boot(cloud, ctxt, 6)
    await api.stop(ctxt, await api.get(ctxt, starting.uuid))
    await wait_state(cloud, starting.uuid, vm_states.STOPPED)
    image2 = await cloud.db.image_create(None, ImageMeta(id="img-2", name="fedora"))
    hang_image = await cloud.db.image_create(None, ImageMeta(id="img-hang", name="hangs"))
    for op, inst in (
        ("reboot", soft),
        ("reboot", hard),
        ("rebuild", rebuilt),
        ("power_off", stopping),
        ("power_on", starting),
        ("destroy", deleted),
    ):
        driver.inject_fault(op, "hang", instance_uuid=inst.uuid)
    driver.inject_fault("spawn", "hang", image_ref=hang_image.id)
    await api.reboot(ctxt, await api.get(ctxt, soft.uuid), "SOFT")
    await api.reboot(ctxt, await api.get(ctxt, hard.uuid), "HARD")
    await api.rebuild(ctxt, await api.get(ctxt, rebuilt.uuid), image2.id)
    await api.stop(ctxt, await api.get(ctxt, stopping.uuid))
    await api.start(ctxt, await api.get(ctxt, starting.uuid))
    await api.delete(ctxt, await api.get(ctxt, deleted.uuid))
    (building,), _ = await api.create(ctxt, "1", hang_image.id)
    mid = {
        soft.uuid: task_states.REBOOT_STARTED,
        hard.uuid: task_states.REBOOT_STARTED_HARD,
        rebuilt.uuid: task_states.REBUILD_SPAWNING,
        stopping.uuid: task_states.POWERING_OFF,
        starting.uuid: task_states.POWERING_ON,
        deleted.uuid: task_states.DELETING,
        building.uuid: task_states.SPAWNING,
    }
    for uuid, task in mid.items():
        await wait_for(lambda u=uuid, t=task: _in_state(cloud, u, t))
    await wait_for(lambda: _called(driver, "destroy", deleted.uuid))
    await wait_for(lambda: _called(driver, "power_on", starting.uuid))
    await wait_for(lambda: _called(driver, "power_off", stopping.uuid))

    await cloud.computes.pop("cmp1").kill()
    driver.clear_faults()
    driver.guests[hard.uuid] = power_state.SHUTDOWN  # the hard reboot had it off
    driver.reboots.clear()
    await cloud.add_compute("cmp1", driver)  # init_host runs before this returns

    expect = {
        soft.uuid: (vm_states.ACTIVE, power_state.RUNNING),  # J: running, cleared
        hard.uuid: (vm_states.ACTIVE, power_state.RUNNING),  # I: not running, hard retried
        rebuilt.uuid: (vm_states.ERROR, None),  # E
        stopping.uuid: (vm_states.STOPPED, power_state.SHUTDOWN),  # L: stop re-run
        starting.uuid: (vm_states.ACTIVE, power_state.RUNNING),  # M: start re-run
        building.uuid: (vm_states.ERROR, None),  # D
    }
    for uuid, (vm, power) in expect.items():
        got = await cloud.db.instance_get(None, uuid)
        assert (got.vm_state, got.task_state) == (vm, None), (uuid, mid[uuid], got)
        if power is not None:
            assert got.power_state == power
    assert driver.reboots == [(hard.uuid, "HARD")]
    gone = await cloud.db.instance_get(None, deleted.uuid, read_deleted=True)  # H
    assert gone.deleted and deleted.uuid not in driver.guests
    live = await cloud.db.instance_get_all(None, {"host": "cmp1"})
    assert not {i.task_state for i in live} & TRANSITIONAL


TABLE = [
    # (vm_state, task_state, guest power) -> (vm_state, task_state, reboot performed)
    ((vm_states.ACTIVE, task_states.REBOOT_PENDING, 1), (vm_states.ACTIVE, None, "SOFT")),
    ((vm_states.ACTIVE, task_states.REBOOT_PENDING, 4), (vm_states.ACTIVE, None, "HARD")),
    ((vm_states.STOPPED, task_states.REBOOT_PENDING_HARD, 4), (vm_states.ACTIVE, None, "HARD")),
    ((vm_states.ACTIVE, task_states.REBOOT_STARTED, 4), (vm_states.ACTIVE, None, "HARD")),
    ((vm_states.ACTIVE, task_states.REBOOTING, 1), (vm_states.ACTIVE, None, None)),
    ((vm_states.ACTIVE, task_states.REBOOTING_HARD, 1), (vm_states.ACTIVE, None, None)),
    ((vm_states.ACTIVE, task_states.PAUSING, 1), (vm_states.ACTIVE, None, None)),
    ((vm_states.STOPPED, task_states.REBUILDING, 4), (vm_states.ERROR, None, None)),
    ((vm_states.ACTIVE, task_states.NETWORKING, 1), (vm_states.ERROR, None, None)),
    ((vm_states.BUILDING, None, 0), (vm_states.ERROR, None, None)),
    ((vm_states.ERROR, task_states.REBUILDING, 1), (vm_states.ERROR, "rebuilding", None)),
    ((vm_states.ACTIVE, task_states.POWERING_ON, 4), (vm_states.ACTIVE, None, None)),
]


async def test_init_instance_table(cloud: AllInOne, ctxt: RequestContext) -> None:
    """57-65: states left behind by a crash, prepared in the DB, resolved at restart."""
    await cloud.add_compute("cmp1")
    driver = cloud.driver("cmp1")
    instances = await boot(cloud, ctxt, len(TABLE) + 1)
    await cloud.computes.pop("cmp1").kill()
    for inst, ((vm, task, power), _) in zip(instances, TABLE, strict=False):
        await cloud.db.instance_update(None, inst.uuid, {"vm_state": vm, "task_state": task})
        driver.guests[inst.uuid] = power
    half_deleted = instances[-1]  # 65: vm DELETED but the row is still there
    await cloud.db.instance_update(None, half_deleted.uuid, {"vm_state": vm_states.DELETED})
    await cloud.add_compute("cmp1", driver)
    reboots = dict(driver.reboots)
    for inst, (before, (vm, task, reboot)) in zip(instances, TABLE, strict=False):
        got = await cloud.db.instance_get(None, inst.uuid)
        assert (got.vm_state, got.task_state) == (vm, task), (before, got)
        assert reboots.get(inst.uuid) == reboot, before
    assert (await cloud.db.instance_get(None, half_deleted.uuid, read_deleted=True)).deleted


async def test_new_service_with_guests_refuses_to_start(cloud: AllInOne) -> None:
    """67: no service row yet but the hypervisor already has guests."""
    driver = FakeDriver()
    driver.guests["stray"] = power_state.RUNNING
    with pytest.raises(exception.InvalidConfiguration):
        await cloud.add_compute("fresh", driver)
    assert await cloud.db.service_get_by_host_and_binary(None, "fresh", "nova-compute") is None


async def test_foreign_instance_untouched(cloud: AllInOne, ctxt: RequestContext) -> None:
    """66: an instance owned by another host is left alone by _init_instance."""
    service = await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    (inst,) = await boot(cloud, ctxt, host="cmp2")
    await cloud.db.instance_update(None, inst.uuid, {"task_state": task_states.REBUILDING})
    instance = await cloud.db.instance_get(None, inst.uuid)
    await service.manager.recovery._init_instance(ctxt, instance)  # type: ignore[attr-defined]
    got = await cloud.db.instance_get(None, inst.uuid)
    assert (got.vm_state, got.task_state) == (vm_states.ACTIVE, task_states.REBUILDING)
    assert IMAGE.id == got.image_ref


async def test_no_message_consumed_before_recovery(cloud: AllInOne, ctxt: RequestContext) -> None:
    """A hard reboot cast while the compute is dead waits in its queue; at restart init_host
    first clears the interrupted soft reboot (guest running: row J), so the queued message
    then finds no hard-reboot task and is dropped (CAS), instead of racing the recovery."""
    await cloud.add_compute("cmp1")
    driver = cloud.driver("cmp1")
    (inst,) = await boot(cloud, ctxt)
    driver.inject_fault("reboot", "hang", instance_uuid=inst.uuid)
    await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "SOFT")
    await wait_state(cloud, inst.uuid, vm_states.ACTIVE, task_states.REBOOT_STARTED)
    await cloud.computes.pop("cmp1").kill()
    driver.clear_faults()
    await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "HARD")  # queued
    await cloud.add_compute("cmp1", driver)
    assert (await cloud.db.instance_get(None, inst.uuid)).task_state is None  # recovered
    await wait_for(lambda: _event_done(cloud, inst.uuid))
    got = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert got.power_state == power_state.RUNNING and driver.reboots == []


async def _event_done(cloud: AllInOne, uuid: str) -> bool:
    actions = await cloud.db.actions_get(None, uuid)
    events = [e for a in actions for e in a.events if e.event == "compute_reboot_instance"]
    return len(events) == 2 and events[-1].result is not None


async def _builds_in_flight(cloud: AllInOne, host: str, count: int) -> bool:
    manager = cloud.computes[host].manager
    assert isinstance(manager, ComputeManager)
    return manager.builds_in_flight == count


async def test_unclaimed_build_errored_at_restart(cloud: AllInOne, ctxt: RequestContext) -> None:
    """Scenario 68: BUILDING instance with allocations on this node but not yet assigned a
    host at startup → ERROR. Each compute has one build slot, taken by a hanging spawn, so
    the next build sent to it (the conductor has cast it and recorded the node) waits for
    the slot without a claim; cmp1 is then killed and restarted. Its unclaimed build goes
    ERROR with task None; the one sent to cmp2 and one never scheduled stay BUILDING."""
    one_slot = cloud.config.with_default(max_concurrent_builds=1)
    hang = await cloud.db.image_create(None, ImageMeta(id="img-hang", name="hangs"))
    api = cloud.api
    assert api is not None
    blocking, unclaimed = {}, {}
    for host in ("cmp1", "cmp2"):
        await cloud.add_compute(host, config=one_slot)
        cloud.driver(host).inject_fault("spawn", "hang", image_ref=hang.id)
        zone = f"nova:{host}"
        (blocking[host],), _ = await api.create(ctxt, "1", hang.id, availability_zone=zone)
        await wait_state(cloud, blocking[host].uuid, vm_states.BUILDING, task_states.SPAWNING)
        (unclaimed[host],), _ = await api.create(ctxt, "1", IMAGE.id, availability_zone=zone)
        await wait_for(lambda h=host: _builds_in_flight(cloud, h, 2))  # cast received
    never_scheduled = await cloud.db.instance_create(
        None, Instance(uuid=str(uuidlib.uuid4()), task_state=task_states.SCHEDULING)
    )
    for inst in unclaimed.values():
        got = await cloud.db.instance_get(None, inst.uuid)
        assert (got.vm_state, got.task_state, got.host) == (
            vm_states.BUILDING,
            task_states.SCHEDULING,
            None,
        )

    driver = cloud.driver("cmp1")
    await cloud.computes.pop("cmp1").kill()
    driver.clear_faults()
    await cloud.add_compute("cmp1", driver, config=one_slot)  # init_host runs first

    got = await cloud.db.instance_get(None, unclaimed["cmp1"].uuid)
    assert (got.vm_state, got.task_state, got.host) == (vm_states.ERROR, None, None)
    got = await cloud.db.instance_get(None, blocking["cmp1"].uuid)  # row D, not step 7
    assert (got.vm_state, got.task_state, got.host) == (vm_states.ERROR, None, "cmp1")
    got = await cloud.db.instance_get(None, unclaimed["cmp2"].uuid)
    assert (got.vm_state, got.task_state) == (vm_states.BUILDING, task_states.SCHEDULING)
    got = await cloud.db.instance_get(None, blocking["cmp2"].uuid)
    assert (got.vm_state, got.task_state) == (vm_states.BUILDING, task_states.SPAWNING)
    got = await cloud.db.instance_get(None, never_scheduled.uuid)
    assert (got.vm_state, got.task_state) == (vm_states.BUILDING, task_states.SCHEDULING)
    assert driver.list_instance_uuids() == []


async def _restart_with_guest_off(
    cloud: AllInOne, ctxt: RequestContext
) -> tuple[FakeDriver, list[Instance]]:
    """Boot [running, stopped, up] on cmp1 and kill it; the guests of `running` and
    `stopped` are then SHUTDOWN (as after a host reboot). Returns the driver and them."""
    await cloud.add_compute("cmp1")
    driver = cloud.driver("cmp1")
    api = cloud.api
    assert api is not None
    instances = await boot(cloud, ctxt, 3)
    running, stopped, up = instances
    await api.stop(ctxt, await api.get(ctxt, stopped.uuid))
    await wait_state(cloud, stopped.uuid, vm_states.STOPPED)
    await cloud.computes.pop("cmp1").kill()
    driver.guests[running.uuid] = power_state.SHUTDOWN
    assert driver.guests[stopped.uuid] == power_state.SHUTDOWN
    assert driver.guests[up.uuid] == power_state.RUNNING
    driver.calls.clear()
    return driver, instances


async def test_resume_guests_off_by_default(cloud: AllInOne, ctxt: RequestContext) -> None:
    """init_host row Q: with resume_guests_state_on_host_boot False (the default) a guest
    found off while the DB says RUNNING is not resumed; the instance is left as it was."""
    assert cloud.config.DEFAULT.resume_guests_state_on_host_boot is False
    driver, (running, _, _) = await _restart_with_guest_off(cloud, ctxt)
    await cloud.add_compute("cmp1", driver)
    assert driver.guests[running.uuid] == power_state.SHUTDOWN
    assert driver.calls == []
    got = await cloud.db.instance_get(None, running.uuid)
    assert (got.vm_state, got.task_state, got.power_state) == (
        vm_states.ACTIVE,
        None,
        power_state.RUNNING,
    )


async def test_resume_guests_on_host_boot(cloud: AllInOne, ctxt: RequestContext) -> None:
    """init_host row Q: with resume_guests_state_on_host_boot True, the guest of an instance
    whose DB power_state is RUNNING but found SHUTDOWN is resumed (running again); a
    stopped instance and a guest already running are not touched."""
    driver, (running, stopped, up) = await _restart_with_guest_off(cloud, ctxt)
    config = cloud.config.with_default(resume_guests_state_on_host_boot=True)
    await cloud.add_compute("cmp1", driver, config=config)
    assert driver.guests[running.uuid] == power_state.RUNNING
    assert driver.guests[stopped.uuid] == power_state.SHUTDOWN
    assert driver.calls == [("reboot", running.uuid)]
    for inst, vm in (
        (running, vm_states.ACTIVE),
        (stopped, vm_states.STOPPED),
        (up, vm_states.ACTIVE),
    ):
        got = await cloud.db.instance_get(None, inst.uuid)
        assert (got.vm_state, got.task_state) == (vm, None), got


async def test_resume_guest_failure_errors_instance(cloud: AllInOne, ctxt: RequestContext) -> None:
    """init_host row Q: a failing driver.resume_state_on_host_boot puts the instance in
    ERROR (task None); the other instances are still recovered."""
    driver, (running, stopped, up) = await _restart_with_guest_off(cloud, ctxt)
    driver.inject_fault("reboot", "fail", instance_uuid=running.uuid)
    config = cloud.config.with_default(resume_guests_state_on_host_boot=True)
    await cloud.add_compute("cmp1", driver, config=config)
    assert driver.calls == [("reboot", running.uuid)]
    got = await cloud.db.instance_get(None, running.uuid)
    assert (got.vm_state, got.task_state) == (vm_states.ERROR, None)
    for inst, vm in ((stopped, vm_states.STOPPED), (up, vm_states.ACTIVE)):
        got = await cloud.db.instance_get(None, inst.uuid)
        assert (got.vm_state, got.task_state) == (vm, None), got
