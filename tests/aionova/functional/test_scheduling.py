"""No valid host, reschedule after a failed claim, and a 200-boot storm (spec §4, §9 4-8, 69)."""

from __future__ import annotations

import asyncio

from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.objects import ImageMeta
from aionova.scheduler.manager import SchedulerManager
from aionova.states import vm_states
from aionova.virt.fake import FakeDriver
from tests.aionova.conftest import IMAGE, fast_config, wait_settled


async def test_flavor_too_big_goes_error_with_fault(cloud: AllInOne, ctxt: RequestContext):
    """Scenario 4: no host fits -> ERROR, task None, fault 'No valid host', failed event."""
    await cloud.add_compute("cmp1")
    assert cloud.api is not None
    (instance,), _ = await cloud.api.create(ctxt, "99", IMAGE.id)
    (done,) = await wait_settled(cloud, [instance.uuid])
    assert done.vm_state == vm_states.ERROR and done.host is None
    fault = await cloud.api.get_fault(ctxt, done)
    assert fault is not None and "No valid host was found" in fault.message
    (action,) = await cloud.db.actions_get(None, instance.uuid)
    assert action.message == "Error"
    assert [(e.event, e.result) for e in action.events] == [("conductor_build_instances", "Error")]
    assert cloud.driver("cmp1").guests == {}


async def test_claim_failure_reschedules_to_another_host(make_cloud, ctxt: RequestContext):
    """Scenarios 5 and 69: the compute's own claim is still checked. A stale scheduler
    view and allocations that lost the first instance (drift the database claim cannot
    see) send a build to a full host; its compute claim fails, the instance goes back
    to scheduling and lands on the other host."""
    cloud = await make_cloud(fast_config(ram_allocation_ratio=1.0))
    await cloud.add_compute("full", FakeDriver(memory_mb=1536))  # room for one m1.small
    await cloud.add_compute("roomy", FakeDriver(memory_mb=8192))
    assert cloud.api is not None
    (first,), _ = await cloud.api.create(ctxt, "2", IMAGE.id, availability_zone="nova:full")
    (first,) = await wait_settled(cloud, [first.uuid])
    assert first.host == "full"

    scheduler = cloud.scheduler.manager  # type: ignore[union-attr]
    assert isinstance(scheduler, SchedulerManager)
    await scheduler.host_manager.refresh(ctxt)
    stale = scheduler.host_manager.host_states[("full", "full")]
    stale.free_ram_mb, stale.updated = 100_000, "9999"  # the view lags: "full" looks empty
    stale.reported = (512, 0, 0)
    scheduler.weighers[0].multiplier = -1.0  # stack: the fuller host first
    await cloud.db.allocation_delete(None, first.uuid)  # and so do the allocations

    (second,), _ = await cloud.api.create(ctxt, "2", IMAGE.id)
    (second,) = await wait_settled(cloud, [second.uuid])
    assert second.vm_state == vm_states.ACTIVE and second.host == "roomy"
    (action,) = await cloud.db.actions_get(None, second.uuid)
    results = [e.result for e in action.events if e.event == "compute__do_build_and_run_instance"]
    assert results == ["Error", "Success"]
    assert second.uuid not in cloud.driver("full").guests
    full_node = (await cloud.db.compute_node_get_all_by_host(None, "full"))[0]
    assert full_node.memory_mb_used == 512 + 1024  # the failed claim left no usage behind


ARM = ("aarch64", "fake", "hvm")
X86 = ("x86_64", "fake", "hvm")
ARM_IMAGE = ImageMeta(id="arm-image", name="arm", properties={"hw_architecture": "aarch64"})
X86_IMAGE = ImageMeta(id="x86-image", name="x86", properties={"architecture": "x86_64"})
PPC_IMAGE = ImageMeta(id="ppc-image", name="ppc", properties={"hw_architecture": "ppc64le"})


async def _boot_image(cloud: AllInOne, ctxt: RequestContext, image: str, count: int) -> set[str]:
    """Boot ``count`` instances of an image (not forced) and return the hosts they got."""
    assert cloud.api is not None
    instances, _ = await cloud.api.create(ctxt, "1", image, min_count=count)
    done = await wait_settled(cloud, [i.uuid for i in instances])
    assert all(i.vm_state == vm_states.ACTIVE for i in done), [i.vm_state for i in done]
    return {i.host for i in done if i.host is not None}


async def test_image_architecture_lands_only_on_hosts_whose_hypervisor_runs_it(
    cloud: AllInOne, ctxt: RequestContext
):
    """Scenario 23's filter with what each compute reports: supported_instances go from the
    driver into the compute node row and from there into the scheduler's host states."""
    await cloud.add_compute("x86")  # the fake hypervisor's default: x86_64/fake/hvm
    await cloud.add_compute("arm", FakeDriver(supported_instances=[ARM]))
    await cloud.add_compute("bare", FakeDriver(supported_instances=[]))  # reports nothing
    for image in (ARM_IMAGE, X86_IMAGE, PPC_IMAGE):
        await cloud.db.image_create(None, image)
    rows = {n.host: n.supported_instances for n in await cloud.db.compute_node_get_all(None)}
    assert rows == {"x86": [X86], "arm": [ARM], "bare": []}

    # Equal hosts: without the filter the RAM weigher would spread these over all three.
    assert await _boot_image(cloud, ctxt, X86_IMAGE.id, 4) == {"x86"}
    assert await _boot_image(cloud, ctxt, ARM_IMAGE.id, 4) == {"arm"}
    scheduler = cloud.scheduler.manager  # type: ignore[union-attr]
    assert isinstance(scheduler, SchedulerManager)
    states = scheduler.host_manager.host_states
    assert states[("arm", "arm")].supported_instances == [ARM]
    assert states[("bare", "bare")].supported_instances == []
    # A plain image asks for nothing: the emptiest host, the one reporting nothing, takes it.
    assert await _boot_image(cloud, ctxt, IMAGE.id, 1) == {"bare"}

    # No hypervisor runs ppc64le: No valid host.
    assert cloud.api is not None
    (ppc,), _ = await cloud.api.create(ctxt, "1", PPC_IMAGE.id)
    (ppc,) = await wait_settled(cloud, [ppc.uuid])
    assert ppc.vm_state == vm_states.ERROR and ppc.host is None
    fault = await cloud.api.get_fault(ctxt, ppc)
    assert fault is not None and "No valid host was found" in fault.message

    # What a compute reports changes with its hypervisor: the audit updates the node row.
    cloud.driver("bare").supported_instances = [ARM]
    await cloud.computes["bare"].manager.update_available_resource(ctxt)  # type: ignore[attr-defined]
    (node,) = await cloud.db.compute_node_get_all_by_host(None, "bare")
    assert node.supported_instances == [ARM]
    assert await _boot_image(cloud, ctxt, ARM_IMAGE.id, 1) == {"bare"}  # now the emptiest fit


async def _usage_by_host(cloud: AllInOne) -> dict[str, tuple[int, int, int]]:
    usage: dict[str, list[int]] = {}
    for inst in await cloud.db.instance_get_all(None):
        if inst.host is not None:
            u = usage.setdefault(inst.host, [0, 0, 0])
            u[0] += inst.memory_mb
            u[1] += inst.root_gb + inst.ephemeral_gb
            u[2] += inst.vcpus
    return {h: (m, d, c) for h, (m, d, c) in usage.items()}


async def test_boot_storm_200_on_5_small_hosts(make_cloud, ctxt: RequestContext):
    """200 concurrent boots, 5 SmallFakeDriver hosts: never over a limit, none stuck."""
    config = fast_config(ram_allocation_ratio=1.5, cpu_allocation_ratio=16.0)
    cloud = await make_cloud(config)
    for i in range(5):
        await cloud.add_compute(f"small{i}", FakeDriver.small())
    # limits per host: RAM 8192 x 1.5 (512 reserved), disk 1028 GB, vCPU 2 x 16
    mem_limit, disk_limit, cpu_limit = 8192 * 1.5 - 512, 1028, 32
    worst = [0.0]
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            for m, d, c in (await _usage_by_host(cloud)).values():
                worst[0] = max(worst[0], m / mem_limit, d / disk_limit, c / cpu_limit)
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    assert cloud.api is not None
    created = await asyncio.gather(
        *(cloud.api.create(ctxt, "2", IMAGE.id, name=f"vm{i}") for i in range(200))
    )
    uuids = [instances[0].uuid for instances, _ in created]
    done = await wait_settled(cloud, uuids, timeout=60)
    stop.set()
    await watcher
    active = [i for i in done if i.vm_state == vm_states.ACTIVE]
    errors = [i for i in done if i.vm_state == vm_states.ERROR]
    assert len(active) + len(errors) == 200
    assert worst[0] <= 1.0
    for m, d, c in (await _usage_by_host(cloud)).values():
        assert m <= mem_limit and d <= disk_limit and c <= cpu_limit
    assert len(active) == 5 * int(mem_limit // 1024)  # every host filled, none over
    for node in await cloud.db.compute_node_get_all(None):
        assert node.memory_mb_used <= node.memory_mb * node.ram_allocation_ratio
    for inst in errors:
        fault = await cloud.db.instance_fault_get_latest(None, inst.uuid)
        assert fault is not None
