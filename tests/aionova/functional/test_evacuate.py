"""Evacuate (spec §1.3.5, §5, §9 scenarios 30-51) and the mixed 4.0 fleet (§2.3, 78)."""

from __future__ import annotations

import pytest

from aionova import exception
from aionova.api.compute import HostAPI
from aionova.compute.manager import ComputeManager
from aionova.config import UpgradeLevels
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.objects import Migration
from aionova.states import power_state, task_states, vm_states
from aionova.virt.fake import FakeDriver
from tests.aionova.conftest import boot, events_of, fast_config, wait_for, wait_state

ADMIN = RequestContext(user_id="admin", project_id="admin").elevated()


async def force_down(cloud: AllInOne, host: str, down: bool = True) -> None:
    hosts = HostAPI(cloud.db, cloud.config)
    service = await hosts.service_get_by_host_and_binary(ADMIN, host, "nova-compute")
    await hosts.service_update(ADMIN, service, forced_down=down)


async def migrations(cloud: AllInOne, **filters: object) -> list[Migration]:
    return await cloud.db.migration_get_all(None, dict(filters))


async def wait_migrations(cloud: AllInOne, status: str, count: int, **filters: object) -> None:
    async def reached() -> bool:
        found = await migrations(cloud, **filters)
        return sum(m.status == status for m in found) == count

    await wait_for(reached, timeout=30)


async def test_evacuate_refusals(cloud: AllInOne, ctxt: RequestContext) -> None:
    """27, 29, 30, 31, 34: compute up, unknown host, same host, force without host, wrong
    vm_state; no Migration is created by a refusal."""
    await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    api = cloud.api
    assert api is not None
    instance = await api.get(ADMIN, inst.uuid)
    with pytest.raises(exception.ComputeServiceInUse):
        await api.evacuate(ADMIN, instance)
    with pytest.raises(exception.ComputeHostNotFound):
        await api.evacuate(ADMIN, instance, host="nowhere")
    with pytest.raises(exception.InvalidRequest, match="same"):
        await api.evacuate(ADMIN, instance, host="cmp1")
    with pytest.raises(exception.InvalidRequest, match="force"):
        await api.evacuate(ADMIN, instance, force=True)
    await cloud.db.instance_update(None, inst.uuid, {"vm_state": vm_states.PAUSED})
    await force_down(cloud, "cmp1")
    with pytest.raises(exception.InstanceInvalidState, match="vm_state"):
        await api.evacuate(ADMIN, await api.get(ADMIN, inst.uuid))
    assert await migrations(cloud) == []


async def test_evacuate_20_instances_then_source_restart_cleans_up(cloud, ctxt) -> None:
    """28, 37, 39, 48, 51: a forced-down host's 20 instances come up ACTIVE elsewhere (never on the
    source), migrations done; force-up is refused until the source restarts, destroys its
    guests and completes the migrations; no instance exists twice."""
    await cloud.add_compute("cmp1")
    (await cloud.add_compute("cmp2")), (await cloud.add_compute("cmp3"))
    source_driver = cloud.driver("cmp1")
    instances = await boot(cloud, ctxt, 20, host="cmp1")
    await force_down(cloud, "cmp1")
    for inst in instances:
        await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid))
    await wait_migrations(cloud, "done", 20, source_compute="cmp1")
    for inst in instances:
        moved = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
        assert moved.host in ("cmp2", "cmp3") and moved.node == moved.host
        assert moved.power_state == power_state.RUNNING
        assert await events_of(cloud, inst.uuid, "evacuate") == {
            "rebuild_server": "Success",
            "compute_rebuild_instance": "Success",
        }
    assert len(source_driver.guests) == 20  # the source has not cleaned up yet
    with pytest.raises(exception.ServiceForceUpRefused):
        await force_down(cloud, "cmp1", down=False)
    await cloud.computes.pop("cmp1").stop()
    await cloud.add_compute("cmp1", source_driver)
    assert source_driver.guests == {}
    assert all(m.status == "completed" for m in await migrations(cloud, source_compute="cmp1"))
    guests = [u for h in ("cmp2", "cmp3") for u in cloud.driver(h).guests]
    assert sorted(guests) == sorted(i.uuid for i in instances)
    await force_down(cloud, "cmp1", down=False)


async def test_evacuate_to_requested_and_forced_hosts(cloud, ctxt) -> None:
    """35 + 34: a host without force is a requested destination the scheduler validates;
    force bypasses it. The dest records its node; STOPPED stays STOPPED (46)."""
    for host in ("cmp1", "cmp2", "cmp3"):
        await cloud.add_compute(host)
    a, b = await boot(cloud, ctxt, 2, host="cmp1")
    await cloud.api.stop(ctxt, await cloud.api.get(ctxt, b.uuid))
    await wait_state(cloud, b.uuid, vm_states.STOPPED)
    await force_down(cloud, "cmp1")
    migration = await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, a.uuid), host="cmp3")
    assert (migration.status, migration.migration_type) == ("accepted", "evacuation")
    assert (migration.source_compute, migration.dest_compute) == ("cmp1", "cmp3")
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, b.uuid), host="cmp2", force=True)
    await wait_migrations(cloud, "done", 2)
    assert (await wait_state(cloud, a.uuid, vm_states.ACTIVE)).host == "cmp3"
    moved = await wait_state(cloud, b.uuid, vm_states.STOPPED)
    assert moved.host == "cmp2" and moved.power_state == power_state.SHUTDOWN
    done = {m.instance_uuid: m for m in await migrations(cloud)}
    assert (done[a.uuid].dest_compute, done[a.uuid].dest_node) == ("cmp3", "cmp3")


async def test_evacuate_without_valid_host(cloud, ctxt) -> None:
    """38: nowhere to go -> ERROR on the source, migration error; a source restart keeps the
    guest."""
    await cloud.add_compute("cmp1")
    driver = cloud.driver("cmp1")
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    await force_down(cloud, "cmp1")
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid))
    failed = await wait_state(cloud, inst.uuid, vm_states.ERROR)
    assert failed.host == "cmp1"
    assert [m.status for m in await migrations(cloud)] == ["error"]
    assert await events_of(cloud, inst.uuid, "evacuate") == {"rebuild_server": "Error"}
    await cloud.computes.pop("cmp1").stop()
    await cloud.add_compute("cmp1", driver)
    assert inst.uuid in driver.guests


async def test_evacuate_destination_failures(cloud, ctxt) -> None:
    """41, 42: a driver failure on the destination, or a wrong on_shared_storage, leaves the
    instance ERROR on the source with the migration failed."""
    await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    a, b = await boot(cloud, ctxt, 2, host="cmp1")
    cloud.driver("cmp2").inject_fault("spawn", "fail", instance_uuid=a.uuid)
    await force_down(cloud, "cmp1")
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, a.uuid))
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, b.uuid), on_shared_storage=True)
    for uuid in (a.uuid, b.uuid):
        failed = await wait_state(cloud, uuid, vm_states.ERROR)
        assert failed.host == "cmp1"
    await wait_migrations(cloud, "failed", 2)
    fault = await cloud.db.instance_fault_get_latest(None, b.uuid)
    assert fault is not None and "shared storage" in fault.message
    assert cloud.driver("cmp2").guests == {}


async def test_evacuate_claim_failure_keeps_vm_state(make_cloud, ctxt) -> None:
    """40: the destination cannot fit the instance -> vm_state kept (ACTIVE), task None,
    migration failed, instance stays on the source (forced host with limits absent is
    unlimited, so the dest's node is made unknown to its tracker)."""
    cloud = await make_cloud()
    await cloud.add_compute("cmp1")
    service = await cloud.add_compute("cmp2")
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    await force_down(cloud, "cmp1")
    manager = service.manager
    assert isinstance(manager, ComputeManager)
    manager.rt.compute_nodes.clear()  # "Attempt to claim resources on unknown node"
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid), "cmp2", force=True)
    await wait_migrations(cloud, "failed", 1)
    kept = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert kept.host == "cmp1"


async def test_evacuate_to_a_4_0_compute(make_cloud, ctxt) -> None:
    """Mixed fleet (78): cap 4.0 -> the dest receives rebuild_instance 4.0 without migration,
    scheduled_node and limits, creates its own migration, and the evacuation succeeds."""
    config = fast_config()
    config.upgrade_levels = UpgradeLevels(compute="auto")
    cloud = await make_cloud(config)
    await cloud.add_compute("cmp1")
    old = await cloud.add_compute("old", FakeDriver(), service_version=1, rpc_version="4.0")
    assert isinstance(old.manager, ComputeManager) and old.manager.target.version == "4.0"
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    await force_down(cloud, "cmp1")
    received: list[dict[str, object]] = []
    original = old.manager.rebuild_instance

    async def spy(ctxt: RequestContext, instance: object, *args: object, **kwargs: object):
        received.append(kwargs)
        return await original(ctxt, instance, *args, **kwargs)

    old.manager.rebuild_instance = spy  # type: ignore[method-assign]
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid))
    await wait_migrations(cloud, "done", 1)
    moved = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert moved.host == "old" and moved.task_state is None
    assert len(received) == 1
    assert not {"migration", "scheduled_node", "limits"} & set(received[0])
    statuses = sorted(m.status for m in await migrations(cloud))
    assert statuses == ["accepted", "done"]  # the API's record stays accepted (§2.3)


async def test_rebuild_task_check_not_applied_to_evacuate(cloud, ctxt) -> None:
    """32: evacuate ignores task_state (2023.1+): an instance stuck powering-off moves."""
    await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    await cloud.db.instance_update(None, inst.uuid, {"task_state": task_states.POWERING_OFF})
    await force_down(cloud, "cmp1")
    await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid))
    await wait_migrations(cloud, "done", 1)
    assert (await wait_state(cloud, inst.uuid, vm_states.ACTIVE)).host == "cmp2"
