"""Evacuation races with the source's restart and the destination's audit (spec §3.4, §5.4-5.6,
§9 scenarios 47, 49, 80)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aionova.compute.manager import ComputeManager
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.objects import ComputeNode, Instance, Migration
from aionova.states import power_state, vm_states
from tests.aionova.conftest import FLAVORS, boot, wait_for, wait_state
from tests.aionova.functional.test_evacuate import ADMIN, force_down, migrations, wait_migrations

TIMEOUT = 10.0
FLAVOR = FLAVORS[0]  # m1.tiny, what boot() uses


class GatedSpawn:
    """Replaces a FakeDriver's ``spawn``: records the migration status seen when the spawn
    starts, signals ``entered`` and holds until ``release`` (bounded)."""

    def __init__(self, cloud: AllInOne, host: str) -> None:
        self.cloud = cloud
        self.driver = cloud.driver(host)
        self.original = self.driver.spawn
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.migrations_at_spawn: list[Migration] = []

    async def __call__(self, instance: Instance, image_meta: Any, **kwargs: Any) -> None:
        self.migrations_at_spawn = await migrations(self.cloud, instance_uuid=instance.uuid)
        self.entered.set()
        async with asyncio.timeout(TIMEOUT):
            await self.release.wait()
        await self.original(instance, image_meta, **kwargs)


class ObservedLock(asyncio.Lock):
    """The resource tracker's lock, telling when someone has to wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.contended = asyncio.Event()

    async def acquire(self) -> bool:
        if self.locked():
            self.contended.set()
        return await super().acquire()


def manager_of(cloud: AllInOne, host: str) -> ComputeManager:
    manager = cloud.computes[host].manager
    assert isinstance(manager, ComputeManager)
    return manager


async def node_row(cloud: AllInOne, host: str) -> ComputeNode:
    (node,) = await cloud.db.compute_node_get_all_by_host(None, host)
    return node


async def test_source_restart_while_pre_migrating(
    cloud: AllInOne, ctxt: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scenario 47: the destination claim moves the Migration to pre-migrating before the
    spawn; the source restarting at that moment destroys its copy (and does not put the
    instance in ERROR), and the evacuation still completes: migration done, instance ACTIVE
    on the destination, one guest in total."""
    await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    source_driver = cloud.driver("cmp1")
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    gate = GatedSpawn(cloud, "cmp2")
    monkeypatch.setattr(gate.driver, "spawn", gate)
    await force_down(cloud, "cmp1")
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid))
    async with asyncio.timeout(TIMEOUT):
        await gate.entered.wait()
    (seen,) = gate.migrations_at_spawn
    assert (seen.status, seen.dest_compute, seen.dest_node) == ("pre-migrating", "cmp2", "cmp2")

    await cloud.computes.pop("cmp1").stop()
    source_driver.calls.clear()
    await cloud.add_compute("cmp1", source_driver)  # init_host has run when this returns
    assert ("destroy", inst.uuid) in source_driver.calls
    assert inst.uuid not in source_driver.guests
    mid = await cloud.db.instance_get(None, inst.uuid)
    assert mid.vm_state == vm_states.ACTIVE and mid.host == "cmp1"  # not re-initialised

    gate.release.set()
    await wait_migrations(cloud, "done", 1, instance_uuid=inst.uuid)
    moved = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert (moved.host, moved.node, moved.power_state) == ("cmp2", "cmp2", power_state.RUNNING)
    assert inst.uuid in gate.driver.guests and inst.uuid not in source_driver.guests


async def test_source_restart_without_the_evacuated_guest(
    cloud: AllInOne, ctxt: RequestContext
) -> None:
    """Scenario 49: after a done evacuation the guest has vanished from the source's
    hypervisor; the source's restart still completes the Migration and the source no longer
    counts the instance's resources (nothing is destroyed, the moved instance is untouched)."""
    await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    source_driver = cloud.driver("cmp1")
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    reserved = cloud.config.DEFAULT.reserved_host_memory_mb
    await force_down(cloud, "cmp1")
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid))
    await wait_migrations(cloud, "done", 1, instance_uuid=inst.uuid)
    assert (await wait_state(cloud, inst.uuid, vm_states.ACTIVE)).host == "cmp2"

    await cloud.computes.pop("cmp1").stop()
    before = await node_row(cloud, "cmp1")  # the dead source still counts it
    assert (before.running_vms, before.memory_mb_used) == (1, reserved + FLAVOR.memory_mb)
    del source_driver.guests[inst.uuid]  # the guest is gone from the hypervisor
    source_driver.calls.clear()
    await cloud.add_compute("cmp1", source_driver)

    assert [m.status for m in await migrations(cloud, instance_uuid=inst.uuid)] == ["completed"]
    assert source_driver.calls == []  # nothing to destroy
    after = await node_row(cloud, "cmp1")
    assert (after.running_vms, after.memory_mb_used, after.vcpus_used) == (0, reserved, 0)
    assert inst.uuid not in manager_of(cloud, "cmp1").rt.tracked
    moved = await cloud.db.instance_get(None, inst.uuid)
    assert (moved.vm_state, moved.task_state, moved.host) == (vm_states.ACTIVE, None, "cmp2")
    dest = await node_row(cloud, "cmp2")
    assert (dest.running_vms, dest.memory_mb_used) == (1, reserved + FLAVOR.memory_mb)


async def test_audit_races_with_finish_evacuation(
    cloud: AllInOne, ctxt: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scenario 80: the destination's audit reads its instances while the evacuation is
    still arriving (instance.host = source), then finish_evacuation runs. It must wait for
    the audit (COMPUTE_RESOURCE_SEMAPHORE); had it switched host and dropped the incoming
    claim meanwhile, the audit would finish from its stale list and drop the instance's
    usage. Afterwards the destination counts the instance exactly once."""
    await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    dest = manager_of(cloud, "cmp2")
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    reserved = cloud.config.DEFAULT.reserved_host_memory_mb
    gate = GatedSpawn(cloud, "cmp2")
    monkeypatch.setattr(gate.driver, "spawn", gate)
    await force_down(cloud, "cmp1")
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid))
    async with asyncio.timeout(TIMEOUT):
        await gate.entered.wait()
    assert dest.rt.compute_nodes["cmp2"].memory_mb_used == reserved + FLAVOR.memory_mb

    lock = ObservedLock()
    monkeypatch.setattr(dest.rt, "lock", lock)
    finished = asyncio.Event()
    original_finish = dest.rt.finish_evacuation

    async def finish_evacuation(*args: Any, **kwargs: Any) -> None:
        await original_finish(*args, **kwargs)
        finished.set()

    monkeypatch.setattr(dest.rt, "finish_evacuation", finish_evacuation)
    audit_read = asyncio.Event()
    original_read = dest.rt.store.instance_get_all_by_host

    async def slow_read(*args: Any, **kwargs: Any) -> list[Instance]:
        found = await original_read(*args, **kwargs)
        audit_read.set()
        # Hold the (stale) list until finish_evacuation either waits for the lock or is done.
        waiters = [asyncio.ensure_future(e.wait()) for e in (lock.contended, finished)]
        try:
            await asyncio.wait(waiters, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return found

    monkeypatch.setattr(dest.rt.store, "instance_get_all_by_host", slow_read)
    audit = asyncio.create_task(dest.update_available_resource(ADMIN))
    async with asyncio.timeout(TIMEOUT):
        await audit_read.wait()
    assert inst.uuid not in {i.uuid for i in await original_read(ADMIN, "cmp2", "cmp2")}
    gate.release.set()
    async with asyncio.timeout(TIMEOUT):
        await audit
        await finished.wait()
    assert lock.contended.is_set()  # finish_evacuation had to wait for the audit

    await wait_migrations(cloud, "done", 1, instance_uuid=inst.uuid)
    moved = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert moved.host == "cmp2"
    node = dest.rt.compute_nodes["cmp2"]
    assert (node.running_vms, node.memory_mb_used) == (1, reserved + FLAVOR.memory_mb)
    assert dest.rt.tracked.get(inst.uuid) == "cmp2" and inst.uuid not in dest.rt.moving

    async def saved() -> bool:
        row = await node_row(cloud, "cmp2")
        return (row.running_vms, row.memory_mb_used) == (1, reserved + FLAVOR.memory_mb)

    await wait_for(saved, timeout=TIMEOUT)
