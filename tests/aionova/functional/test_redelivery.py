"""Redelivery is harmless (issue 14): the same request delivered twice (at-least-once: a
conductor killed mid-build, a duplicate cast) does its work once. No second claim, no
second spawn, no second action event, whatever the handler: build (through one or two
conductors, and to the computes), reboot, rebuild, evacuate, stop, start, delete; and no
second notification."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aionova.drivers.memory.driver import bus_for

from aionova import exception
from aionova.conductor.manager import ConductorManager
from aionova.context import RequestContext
from aionova.db import Database
from aionova.deployment import AllInOne
from aionova.service import Service
from aionova.states import task_states, vm_states
from tests.aionova.conftest import (
    IMAGE,
    MakeCloud,
    boot,
    fast_config,
    seed,
    wait_for,
    wait_settled,
    wait_state,
)
from tests.aionova.functional.test_evacuate import ADMIN, force_down, wait_migrations
from tests.aionova.notifying import (
    BOOT,
    DELETE,
    POWER_OFF,
    POWER_ON,
    REBOOT,
    REBUILD,
    expected,
    listening,
    steady_config,
    with_notifications,
)
from tests.conftest import DatabaseFactory


def deliver_twice(client: Any, method: str) -> None:
    """Every cast of ``client.method`` is sent twice: the same method, the same arguments,
    the same request context (what a redelivery looks like to the receiver)."""
    original = getattr(client, method)

    async def twice(*args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)
        return await original(*args, **kwargs)

    setattr(client, method, twice)


def calls(cloud: AllInOne, operation: str, uuid: str) -> int:
    """How often any fake hypervisor did ``operation`` to an instance."""
    return sum(cloud.driver(h).calls.count((operation, uuid)) for h in cloud.computes)


async def event_counts(cloud: AllInOne, uuid: str) -> Counter[str]:
    return Counter(e.event for a in await cloud.db.actions_get(None, uuid) for e in a.events)


async def allocations(cloud: AllInOne, uuid: str) -> list[tuple[str, int]]:
    rows = await cloud.db.engine.fetch(
        "SELECT host, memory_mb FROM allocations WHERE instance_uuid=? ORDER BY host", (uuid,)
    )
    return [(r[0], int(r[1])) for r in rows]


async def _check_built_once(cloud: AllInOne, uuids: list[str]) -> None:
    done = await wait_settled(cloud, uuids)
    assert all(i.vm_state == vm_states.ACTIVE for i in done)
    for instance in done:
        assert calls(cloud, "spawn", instance.uuid) == 1
        events = await event_counts(cloud, instance.uuid)
        assert events["compute__do_build_and_run_instance"] == 1, events
        assert await allocations(cloud, instance.uuid) == [(instance.host, 512)]
    for host in cloud.computes:  # no double claim on any compute
        (node,) = await cloud.db.compute_node_get_all_by_host(None, host)
        placed = sum(i.host == host for i in done)
        assert node.memory_mb_used == 512 + 512 * placed
        assert len(cloud.driver(host).guests) == placed


async def test_a_build_delivered_twice_is_built_once(cloud: AllInOne, ctxt: RequestContext) -> None:
    for host in ("cmp1", "cmp2"):
        await cloud.add_compute(host)
    assert cloud.api is not None
    deliver_twice(cloud.api.compute_task_api, "build_instances")
    instances, _ = await cloud.api.create(ctxt, "1", IMAGE.id, min_count=4)
    await _check_built_once(cloud, [i.uuid for i in instances])


async def test_a_build_delivered_to_two_conductors_is_built_once(
    databases: DatabaseFactory, tmp_path: Path, ctxt: RequestContext
) -> None:
    """The duplicates go to two conductors (competing consumers), each with its database."""
    url = databases.url(tmp_path)
    cloud = await AllInOne(fast_config(), url).start()
    other_db = await Database(url).open()
    assert cloud.transport is not None
    manager = ConductorManager("conductor2", cloud.config, cloud.transport, other_db.retrying())
    other = Service("nova-conductor", "conductor", "conductor2", manager)
    await other.start()
    try:
        await seed(cloud)
        for host in ("cmp1", "cmp2", "cmp3"):
            await cloud.add_compute(host)
        assert cloud.api is not None
        deliver_twice(cloud.api.compute_task_api, "build_instances")
        created = await asyncio.gather(*(cloud.api.create(ctxt, "1", IMAGE.id) for _ in range(6)))
        await _check_built_once(cloud, [instances[0].uuid for instances, _ in created])
    finally:
        await other.stop()
        await other_db.close()
        await cloud.stop()


async def test_a_build_cast_again_to_computes_spawns_nothing(
    cloud: AllInOne, ctxt: RequestContext
) -> None:
    """Casting the build again, to its own compute and to another, once it is ACTIVE and
    while it is being built: one spawn, one event."""
    for host in ("cmp1", "cmp2"):
        await cloud.add_compute(host)
    (instance,) = await boot(cloud, ctxt, host="cmp1")
    assert cloud.api is not None
    rpcapi = cloud.api.compute_rpcapi
    for host in ("cmp1", "cmp2"):
        await rpcapi.build_and_run_instance(
            ctxt, instance, host, IMAGE, None, {}, node=host, limits=None
        )
    for host in ("cmp1", "cmp2"):
        service = cloud.computes[host]
        await wait_for(lambda s=service: _idle(s))
    await _check_built_once(cloud, [instance.uuid])


async def _idle(service: Service) -> bool:
    return service.manager.builds_in_flight == 0  # type: ignore[attr-defined, no-any-return]


async def test_reboot_stop_start_delivered_twice_run_once(
    cloud: AllInOne, ctxt: RequestContext
) -> None:
    await cloud.add_compute("cmp1")
    (instance,) = await boot(cloud, ctxt)
    assert cloud.api is not None
    api, rpcapi = cloud.api, cloud.api.compute_rpcapi
    for method in ("reboot_instance", "stop_instance", "start_instance"):
        deliver_twice(rpcapi, method)
    driver = cloud.driver("cmp1")

    await api.reboot(ctxt, await api.get(ctxt, instance.uuid), "SOFT")
    await wait_state(cloud, instance.uuid, vm_states.ACTIVE)
    await api.stop(ctxt, await api.get(ctxt, instance.uuid))
    await wait_state(cloud, instance.uuid, vm_states.STOPPED)
    await api.start(ctxt, await api.get(ctxt, instance.uuid))
    await wait_state(cloud, instance.uuid, vm_states.ACTIVE)
    await _drained(cloud)

    assert driver.reboots == [(instance.uuid, "SOFT")]
    assert calls(cloud, "power_off", instance.uuid) == 1
    assert calls(cloud, "power_on", instance.uuid) == 1
    events = await event_counts(cloud, instance.uuid)
    for event in ("compute_reboot_instance", "compute_stop_instance", "compute_start_instance"):
        assert events[event] == 1, events
    assert await cloud.db.instance_fault_get_latest(None, instance.uuid) is None
    assert (await api.get(ctxt, instance.uuid)).task_state is None


async def _drained(cloud: AllInOne) -> None:
    """Every message sent so far has been handled (the duplicates too)."""
    await bus_for(urlsplit(cloud.url).netloc).join(10)


async def test_rebuild_delivered_twice_rebuilds_once(cloud: AllInOne, ctxt: RequestContext) -> None:
    await cloud.add_compute("cmp1")
    (instance,) = await boot(cloud, ctxt)
    assert cloud.api is not None
    api = cloud.api
    deliver_twice(api.compute_task_api, "rebuild_instance")
    deliver_twice(_conductor(cloud).compute_task.rebuild.compute_rpcapi, "rebuild_instance")
    await api.rebuild(ctxt, await api.get(ctxt, instance.uuid), IMAGE.id)
    await wait_state(cloud, instance.uuid, vm_states.ACTIVE)
    await _drained(cloud)
    assert calls(cloud, "rebuild", instance.uuid) == 1
    events = await event_counts(cloud, instance.uuid)
    assert events["rebuild_server"] == 1 and events["compute_rebuild_instance"] == 1, events


def _conductor(cloud: AllInOne) -> ConductorManager:
    assert cloud.conductor is not None
    manager = cloud.conductor.manager
    assert isinstance(manager, ConductorManager)
    return manager


async def test_evacuate_delivered_twice_moves_once(cloud: AllInOne, ctxt: RequestContext) -> None:
    for host in ("cmp1", "cmp2", "cmp3"):
        await cloud.add_compute(host)
    (instance,) = await boot(cloud, ctxt, host="cmp1")
    assert cloud.api is not None
    api = cloud.api
    deliver_twice(api.compute_task_api, "rebuild_instance")
    deliver_twice(_conductor(cloud).compute_task.rebuild.compute_rpcapi, "rebuild_instance")
    await force_down(cloud, "cmp1")
    await api.evacuate(ADMIN, await api.get(ADMIN, instance.uuid))
    await wait_migrations(cloud, "done", 1, instance_uuid=instance.uuid)
    moved = await wait_state(cloud, instance.uuid, vm_states.ACTIVE)
    await _drained(cloud)
    assert moved.host in ("cmp2", "cmp3")
    assert calls(cloud, "spawn", instance.uuid) == 2  # the boot, and one evacuation
    events = await event_counts(cloud, instance.uuid)
    assert events["rebuild_server"] == 1 and events["compute_rebuild_instance"] == 1, events
    statuses = [m.status for m in await cloud.db.migration_get_all(None, {})]
    assert statuses == ["done"]
    # The source keeps its allocation until it restarts (as in Nova); one destination.
    assert sorted(h for h, _ in await allocations(cloud, instance.uuid)) == ["cmp1", moved.host]


async def test_delete_delivered_twice_deletes_once(cloud: AllInOne, ctxt: RequestContext) -> None:
    await cloud.add_compute("cmp1")
    (instance,) = await boot(cloud, ctxt)
    assert cloud.api is not None
    api = cloud.api
    deliver_twice(api.compute_rpcapi, "terminate_instance")
    await api.delete(ctxt, await api.get(ctxt, instance.uuid))
    gone = await wait_state(cloud, instance.uuid, vm_states.DELETED)
    await _drained(cloud)
    assert gone.deleted and gone.task_state is None
    assert calls(cloud, "destroy", instance.uuid) == 1
    events = await event_counts(cloud, instance.uuid)
    assert events["compute_terminate_instance"] == 1, events
    assert await cloud.db.instance_fault_get_latest(None, instance.uuid) is None
    assert await allocations(cloud, instance.uuid) == []
    assert task_states.DELETING not in {gone.task_state}


async def test_duplicates_notify_once(make_cloud: MakeCloud, ctxt: RequestContext) -> None:
    """Build, reboot, stop, start, rebuild and delete each delivered twice, with
    notifications on in both formats: each event is emitted once, in Nova's order."""
    cloud = await make_cloud(with_notifications(steady_config(), "both"))
    await cloud.add_compute("cmp1")
    assert cloud.api is not None
    api, rpcapi = cloud.api, cloud.api.compute_rpcapi
    deliver_twice(api.compute_task_api, "build_instances")
    deliver_twice(api.compute_task_api, "rebuild_instance")
    deliver_twice(_conductor(cloud).compute_task.rebuild.compute_rpcapi, "rebuild_instance")
    for method in ("reboot_instance", "stop_instance", "start_instance", "terminate_instance"):
        deliver_twice(rpcapi, method)
    async with listening(cloud.url) as events:
        (instance,) = await boot(cloud, ctxt)
        uuid = instance.uuid
        await api.reboot(ctxt, await api.get(ctxt, uuid), "SOFT")
        await wait_state(cloud, uuid, vm_states.ACTIVE)
        await api.stop(ctxt, await api.get(ctxt, uuid))
        await wait_state(cloud, uuid, vm_states.STOPPED)
        await api.start(ctxt, await api.get(ctxt, uuid))
        await wait_state(cloud, uuid, vm_states.ACTIVE)
        await api.rebuild(ctxt, await api.get(ctxt, uuid), IMAGE.id)
        await wait_state(cloud, uuid, vm_states.ACTIVE)
        await api.delete(ctxt, await api.get(ctxt, uuid))
        await wait_state(cloud, uuid, vm_states.DELETED)
        want = expected("both", BOOT + REBOOT + POWER_OFF + POWER_ON + REBUILD + DELETE)
        await events.wait_for_types(uuid, want)
        await _drained(cloud)  # the duplicates' work (and any notification of it) is done
        assert events.types(uuid) == want


async def test_a_duplicate_after_part_of_the_request_moved_on(
    cloud: AllInOne, ctxt: RequestContext
) -> None:
    """The scheduler meets a duplicate request when one of its instances has started on
    its host already: that one gets no selection and keeps its allocation; the others
    keep the placement the first delivery made (where their builds go); nothing is
    given back that the other delivery holds."""
    for host in ("cmp1", "cmp2"):
        await cloud.add_compute(host)
    assert cloud.api is not None
    held: list[Any] = []

    async def hold(*args: Any, **kwargs: Any) -> None:
        held.append(args)

    setattr(cloud.api.compute_task_api, "build_instances", hold)  # noqa: B010
    instances, _ = await cloud.api.create(ctxt, "1", IMAGE.id, min_count=3)
    assert len(held) == 1
    uuids = [i.uuid for i in instances]
    spec = await cloud.db.request_spec_get(ctxt, uuids[0])
    spec.num_instances = len(uuids)
    scheduler = _conductor(cloud).compute_task.scheduler  # the conductor's client: RPC

    first = await scheduler.select_destinations(ctxt, spec, uuids)
    assert all(first)
    started_on = first[1]["host"]  # type: ignore[index]
    await cloud.db.instance_start_build(ctxt, uuids[1], started_on)
    again = await scheduler.select_destinations(ctxt, spec, uuids)

    assert again[1] is None and again[0] is not None and again[2] is not None
    assert [s["host"] for s in (again[0], again[2])] == [first[0]["host"], first[2]["host"]]  # type: ignore[index]
    assert await allocations(cloud, uuids[1]) == [(started_on, 512)]
    for uuid, selected in ((uuids[0], again[0]), (uuids[2], again[2])):
        assert await allocations(cloud, uuid) == [(selected["host"], 512)]
    # Once none of them waits, the request is a duplicate through and through.
    for uuid, selected in ((uuids[0], again[0]), (uuids[2], again[2])):
        await cloud.db.instance_start_build(ctxt, uuid, selected["host"])
    with pytest.raises(exception.UnexpectedTaskStateError):
        await scheduler.select_destinations(ctxt, spec, uuids)
    assert len(await cloud.db.engine.fetch("SELECT * FROM allocations")) == 3


async def test_a_repeated_select_destinations_keeps_the_first_placement(
    cloud: AllInOne, ctxt: RequestContext
) -> None:
    """select_destinations delivered twice (its request redelivered after a lost ack, to
    another scheduler), the conductor acting on the first answer: the second delivery
    keeps the first placement, so every build goes where its selection says and is
    built once (no build refused as "sent elsewhere" and left waiting)."""
    for host in ("cmp1", "cmp2"):  # a repeat would choose the other one (more room)
        await cloud.add_compute(host)
    assert cloud.api is not None
    scheduler = _conductor(cloud).compute_task.scheduler
    call = scheduler.select_destinations
    answers: list[Any] = []

    async def twice(*args: Any, **kwargs: Any) -> Any:
        answers.append(await call(*args, **kwargs))
        answers.append(await call(*args, **kwargs))
        return answers[0]

    setattr(scheduler, "select_destinations", twice)  # noqa: B010
    instances, _ = await cloud.api.create(ctxt, "1", IMAGE.id)
    uuids = [i.uuid for i in instances]
    await _check_built_once(cloud, uuids)
    first, second = answers
    assert [s["host"] for s in second] == [s["host"] for s in first]
