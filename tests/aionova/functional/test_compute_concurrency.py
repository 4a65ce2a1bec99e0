"""The per-instance lock and the build semaphore (spec §3.1-3.3, §9 10)."""

from __future__ import annotations

import asyncio

from aionova.compute.manager import ComputeManager
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.states import task_states, vm_states
from aionova.virt.fake import FakeDriver, Latency
from tests.aionova.conftest import IMAGE, fast_config, wait_for, wait_settled


async def test_instance_lock_keeps_operations_apart(cloud: AllInOne, ctxt: RequestContext):
    """While another operation holds an instance's lock, its build does not start."""
    service = await cloud.add_compute("cmp1")
    manager = service.manager
    assert isinstance(manager, ComputeManager) and cloud.api is not None
    (instance,), _ = await cloud.api.create(ctxt, "1", IMAGE.id)
    async with manager.instance_locks(instance.uuid):
        await wait_for(lambda: _is_true(manager.builds_in_flight == 1))
        await asyncio.sleep(0.2)  # give a wrongly unlocked build every chance to run
        held = await cloud.db.instance_get(None, instance.uuid)
        assert held.task_state == task_states.SCHEDULING and held.host is None
        assert cloud.driver("cmp1").calls == []
    (done,) = await wait_settled(cloud, [instance.uuid])
    assert done.vm_state == vm_states.ACTIVE
    assert len(manager.instance_locks) == 0  # locks are dropped when free


async def test_build_semaphore_bounds_concurrent_builds(make_cloud, ctxt: RequestContext):
    """Scenario 10: the RPC handler returns at once; at most max_concurrent_builds spawn."""
    cloud = await make_cloud(fast_config(max_concurrent_builds=2))
    await cloud.add_compute("cmp1", FakeDriver(latency=Latency(spawn=0.1)))
    assert cloud.api is not None
    created = await asyncio.gather(*(cloud.api.create(ctxt, "1", IMAGE.id) for _ in range(8)))
    done = await wait_settled(cloud, [c[0][0].uuid for c in created])
    assert all(i.vm_state == vm_states.ACTIVE for i in done)
    driver = cloud.driver("cmp1")
    assert driver.peak["spawn"] == 2
    assert [op for op, _ in driver.calls].count("spawn") == 8


async def _is_true(value: bool) -> bool:
    return value
