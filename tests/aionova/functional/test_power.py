"""Stop, start and delete (spec §1.3.6-1.3.7, §9 scenarios 52-56)."""

from __future__ import annotations

import pytest

from aionova import exception
from aionova.api.compute import HostAPI
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.states import power_state, task_states, vm_states
from tests.aionova.conftest import IMAGE, boot, events_of, wait_for, wait_settled, wait_state


async def test_stop_then_start(cloud: AllInOne, ctxt: RequestContext) -> None:
    """52/54: ACTIVE -> powering-off -> STOPPED/SHUTDOWN -> powering-on -> ACTIVE/RUNNING;
    stopping a STOPPED and starting an ACTIVE instance are refused."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    api = cloud.api
    assert api is not None
    with pytest.raises(exception.InstanceInvalidState):
        await api.start(ctxt, await api.get(ctxt, inst.uuid))
    await api.stop(ctxt, await api.get(ctxt, inst.uuid))
    stopped = await wait_state(cloud, inst.uuid, vm_states.STOPPED)
    assert stopped.power_state == power_state.SHUTDOWN
    assert await events_of(cloud, inst.uuid, "stop") == {"compute_stop_instance": "Success"}
    with pytest.raises(exception.InstanceInvalidState):
        await api.stop(ctxt, stopped)
    await api.start(ctxt, stopped)
    started = await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    assert started.power_state == power_state.RUNNING


async def test_stop_refusals(cloud: AllInOne, ctxt: RequestContext) -> None:
    """No host -> InstanceNotReady; task in progress -> invalid state; locked -> locked."""
    await cloud.add_compute("cmp1")
    api = cloud.api
    assert api is not None
    (inst,) = await boot(cloud, ctxt)
    await api.lock(ctxt, await api.get(ctxt, inst.uuid))
    with pytest.raises(exception.InstanceIsLocked):
        await api.stop(ctxt, await api.get(ctxt, inst.uuid))
    await api.unlock(ctxt, await api.get(ctxt, inst.uuid))
    cloud.driver("cmp1").inject_fault("power_off", "hang", instance_uuid=inst.uuid)
    await api.stop(ctxt, await api.get(ctxt, inst.uuid))
    with pytest.raises(exception.InstanceInvalidState, match="task_state"):
        await api.stop(ctxt, await api.get(ctxt, inst.uuid))
    hostless = await api.get(ctxt, inst.uuid)
    hostless.host = None
    with pytest.raises(exception.InstanceNotReady):
        await api.stop(ctxt, hostless)
    await cloud.computes.pop("cmp1").kill()


async def test_stop_failure_reverts_task(cloud: AllInOne, ctxt: RequestContext) -> None:
    """Driver failure: task back to None, vm_state unchanged, fault recorded."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    cloud.driver("cmp1").inject_fault("power_off", "fail", instance_uuid=inst.uuid)
    await cloud.api.stop(ctxt, await cloud.api.get(ctxt, inst.uuid))
    await wait_for(lambda: _has_fault(cloud, inst.uuid))
    await wait_state(cloud, inst.uuid, vm_states.ACTIVE)


async def _selection(cloud: AllInOne, uuid: str) -> tuple[str, str] | None:
    """The build selection (host, node) the conductor recorded for an instance, if any."""
    rows = await cloud.db.engine.fetch(
        "SELECT host, node FROM build_selections WHERE instance_uuid=?", (uuid,)
    )
    return (rows[0][0], rows[0][1]) if rows else None


async def test_delete_with_compute_up_terminates(cloud: AllInOne, ctxt: RequestContext) -> None:
    """55: DELETING, terminate on the compute, guest gone, row soft-deleted, and its build
    selection (where Nova drops the placement allocations) gone with it."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    assert await _selection(cloud, inst.uuid) == ("cmp1", "cmp1")
    await cloud.api.delete(ctxt, await cloud.api.get(ctxt, inst.uuid))
    gone = await wait_state(cloud, inst.uuid, vm_states.DELETED)
    assert gone.deleted and gone.terminated_at is not None
    assert await _selection(cloud, inst.uuid) is None
    assert inst.uuid not in cloud.driver("cmp1").guests
    with pytest.raises(exception.InstanceNotFound):
        await cloud.api.get(ctxt, inst.uuid)
    events = await events_of(cloud, inst.uuid, "delete")
    assert events == {"compute_terminate_instance": "Success"}


async def test_delete_with_compute_down_is_local(cloud: AllInOne, ctxt: RequestContext) -> None:
    """55: compute forced down -> deleted by the API itself; ERROR instances may be deleted."""
    await cloud.add_compute("cmp1")
    (inst,) = await boot(cloud, ctxt)
    hosts = HostAPI(cloud.db, cloud.config)
    service = await hosts.service_get_by_host_and_binary(ctxt, "cmp1", "nova-compute")
    await hosts.service_update(ctxt, service, forced_down=True)
    instance = await cloud.api.get(ctxt, inst.uuid)
    assert await _selection(cloud, inst.uuid) == ("cmp1", "cmp1")
    await cloud.api.delete(ctxt, instance)
    gone = await cloud.db.instance_get(None, inst.uuid, read_deleted=True)
    assert gone.deleted and gone.vm_state == vm_states.DELETED and gone.task_state is None
    assert await _selection(cloud, inst.uuid) is None
    (failed,), _ = await cloud.api.create(ctxt, "99", IMAGE.id)  # too big: ERROR, no host
    (failed,) = await wait_settled(cloud, [failed.uuid])
    assert failed.vm_state == vm_states.ERROR
    await cloud.api.delete(ctxt, failed)
    assert (await cloud.db.instance_get(None, failed.uuid, read_deleted=True)).deleted


async def test_delete_overrides_task_and_failure_sets_error(cloud, ctxt) -> None:
    """A delete pre-empts a running stop (DELETING is saved without expectation); a second
    delete while deleting is ignored; a failed terminate leaves ERROR (56)."""
    await cloud.add_compute("cmp1")
    a, b = await boot(cloud, ctxt, 2)
    driver = cloud.driver("cmp1")
    driver.inject_fault("destroy", "fail", instance_uuid=b.uuid)
    await cloud.api.delete(ctxt, await cloud.api.get(ctxt, b.uuid))
    await wait_state(cloud, b.uuid, vm_states.ERROR)
    await cloud.api.stop(ctxt, await cloud.api.get(ctxt, a.uuid))
    instance = await cloud.api.get(ctxt, a.uuid)
    await cloud.api.delete(ctxt, instance)
    deleting = await cloud.api.get(ctxt, a.uuid)
    if deleting.task_state == task_states.DELETING:
        await cloud.api.delete(ctxt, deleting)  # ignored, no error
    await wait_state(cloud, a.uuid, vm_states.DELETED)


async def _has_fault(cloud: AllInOne, uuid: str) -> bool:
    return await cloud.db.instance_fault_get_latest(None, uuid) is not None
