"""Nothing stuck after a crash (issue 11 item 6): the conductor finds work the API or a
conductor accepted and nobody owns, and drives it again or puts it in ERROR, once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid as uuidlib

import msgspec

from aionova.conductor.manager import ConductorManager
from aionova.conductor.recovery import EVENT_BUILD, EVENT_TASK, StuckWorkRecovery
from aionova.conductor.rpcapi import ComputeTaskAPI
from aionova.config import ConductorOpts, Config
from aionova.context import RequestContext, get_admin_context
from aionova.db.rows import fmt_time
from aionova.deployment import AllInOne
from aionova.objects import Instance, Migration, RequestSpec
from aionova.states import task_states, vm_states
from tests.aionova.conftest import FLAVORS, IMAGE, MakeCloud, boot, fast_config, wait_state

ADMIN = get_admin_context()


def recovering(timeout: float = 5.0, interval: float = 3600.0) -> Config:
    """Fast settings with recovery after ``timeout`` s (looked for every ``interval`` s)."""
    config = fast_config()
    return msgspec.structs.replace(
        config,
        conductor=ConductorOpts(build_recovery_timeout=timeout, recovery_interval=interval),
    )


def recovery_of(cloud: AllInOne) -> StuckWorkRecovery:
    assert cloud.conductor is not None
    manager = cloud.conductor.manager
    assert isinstance(manager, ConductorManager)
    return manager.recovery


async def age(cloud: AllInOne, uuid: str, seconds: float = 600.0) -> None:
    """Pretend nothing touched the instance for ``seconds``."""
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    await cloud.db.engine.execute(
        "UPDATE instances SET updated_at=? WHERE uuid=?", (fmt_time(old), uuid)
    )


async def accepted_build(cloud: AllInOne, ctxt: RequestContext) -> Instance:
    """What the API writes before it casts the build (the cast then lost in a crash)."""
    flavor = FLAVORS[0]
    uuid = str(uuidlib.uuid4())
    spec = RequestSpec(instance_uuid=uuid, flavor=flavor, image=IMAGE, project_id="demo")
    instance = Instance(
        uuid=uuid,
        flavor=flavor,
        memory_mb=flavor.memory_mb,
        vcpus=flavor.vcpus,
        root_gb=flavor.root_gb,
        image_ref=IMAGE.id,
        project_id="demo",
        task_state=task_states.SCHEDULING,
    )
    return await cloud.db.instance_create(ctxt, instance, action="create", spec=spec)


async def events(cloud: AllInOne, uuid: str) -> dict[str, str | None]:
    actions = await cloud.db.actions_get(None, uuid)
    return {e.event: e.result for a in actions for e in a.events}


async def test_a_build_never_cast_is_driven_again(make_cloud: MakeCloud, ctxt: RequestContext):
    cloud = await make_cloud(recovering())
    await cloud.add_compute("cmp1")
    lost = await accepted_build(cloud, ctxt)
    young = await accepted_build(cloud, ctxt)
    await age(cloud, lost.uuid)
    assert await recovery_of(cloud).run(ADMIN) == 1
    done = await wait_state(cloud, lost.uuid, vm_states.ACTIVE)
    assert done.host == "cmp1"
    found = await events(cloud, lost.uuid)
    assert found[EVENT_BUILD] == "Success"
    assert found["compute__do_build_and_run_instance"] == "Success"  # the create's action
    untouched = await cloud.db.instance_get(None, young.uuid)  # not old enough yet
    assert (untouched.vm_state, untouched.task_state) == (vm_states.BUILDING, "scheduling")


async def test_a_build_sent_but_never_started_goes_to_error(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    cloud = await make_cloud(recovering())
    await cloud.add_compute("cmp1")
    lost = await accepted_build(cloud, ctxt)
    await cloud.db.build_selections_record(None, [(lost.uuid, "cmp1", "cmp1")])
    await age(cloud, lost.uuid)
    assert await recovery_of(cloud).run(ADMIN) == 1
    failed = await wait_state(cloud, lost.uuid, vm_states.ERROR)
    fault = await cloud.db.instance_fault_get_latest(None, failed.uuid)
    assert fault is not None and "cmp1" in fault.message
    assert (await events(cloud, lost.uuid))[EVENT_BUILD] == "Error"
    (action,) = await cloud.db.actions_get(None, lost.uuid)
    assert action.message == "Error"


async def test_two_recoverers_act_once(make_cloud: MakeCloud, ctxt: RequestContext) -> None:
    """Several conductors: the compare-and-swap claim lets exactly one act per instance."""
    cloud = await make_cloud(recovering())
    stuck = [await accepted_build(cloud, ctxt) for _ in range(4)]
    for instance in stuck:
        await cloud.db.build_selections_record(None, [(instance.uuid, "gone", "gone")])
        await age(cloud, instance.uuid)
    assert cloud.transport is not None
    config = recovering()
    others = [
        StuckWorkRecovery(f"c{i}", config, cloud.db, ComputeTaskAPI(cloud.transport, config))
        for i in range(3)
    ]
    acted = await asyncio.gather(*(r.run(ADMIN) for r in others))
    assert sum(acted) == 4
    for instance in stuck:
        actions = await cloud.db.actions_get(None, instance.uuid)
        recovered = [e for a in actions for e in a.events if e.event == EVENT_BUILD]
        assert len(recovered) == 1 and recovered[0].result == "Error"
        assert await cloud.db.instance_fault_get_latest(None, instance.uuid) is not None


async def test_rebuild_never_cast_goes_to_error_with_its_migration(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    cloud = await make_cloud(recovering())
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    await cloud.db.instance_update(None, inst.uuid, {"task_state": task_states.REBUILDING})
    migration = await cloud.db.migration_create(
        None,
        Migration(uuid=str(uuidlib.uuid4()), instance_uuid=inst.uuid, source_compute="cmp1"),
    )
    await age(cloud, inst.uuid)
    assert await recovery_of(cloud).run(ADMIN) == 1
    await wait_state(cloud, inst.uuid, vm_states.ERROR)
    assert (await cloud.db.migration_get(None, migration.id)).status == "error"
    assert (await events(cloud, inst.uuid))[EVENT_TASK] == "Error"


async def test_deleting_without_a_host_is_deleted(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    cloud = await make_cloud(recovering())
    lost = await accepted_build(cloud, ctxt)
    await cloud.db.instance_update(
        None, lost.uuid, {"vm_state": vm_states.ERROR, "task_state": task_states.DELETING}
    )
    await age(cloud, lost.uuid)
    assert await recovery_of(cloud).run(ADMIN) == 1
    gone = await cloud.db.instance_get(None, lost.uuid, read_deleted=True)
    assert gone.deleted and gone.vm_state == vm_states.DELETED and gone.task_state is None


async def test_a_lost_reboot_is_cleared_when_its_compute_is_up(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    cloud = await make_cloud(recovering())
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    await cloud.db.instance_update(None, inst.uuid, {"task_state": task_states.REBOOTING})
    await age(cloud, inst.uuid)
    assert await recovery_of(cloud).run(ADMIN) == 1
    cleared = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    fault = await cloud.db.instance_fault_get_latest(None, cleared.uuid)
    assert fault is not None and "rebooting" in fault.message


async def test_recovery_off_and_periodic(make_cloud: MakeCloud, ctxt: RequestContext) -> None:
    """0 disables it; otherwise the conductor's periodic task settles stuck builds alone."""
    off = await make_cloud(recovering(timeout=0))
    lost = await accepted_build(off, ctxt)
    await age(off, lost.uuid)
    assert await recovery_of(off).run(ADMIN) == 0
    cloud = await make_cloud(recovering(timeout=0.5, interval=0.2))
    await cloud.add_compute("cmp1")
    stuck = await accepted_build(cloud, ctxt)
    await wait_state(cloud, stuck.uuid, vm_states.ACTIVE, timeout=15)
