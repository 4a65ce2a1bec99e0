"""Boot flow end to end: api -> conductor -> scheduler -> compute (spec §1.3.1, §9 1-10)."""

from __future__ import annotations

from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.states import power_state, vm_states
from tests.aionova.conftest import IMAGE, wait_settled


async def test_boot_reaches_active(cloud: AllInOne, ctxt: RequestContext) -> None:
    """Scenario 2: networking -> block_device_mapping -> spawning -> ACTIVE, RUNNING, launched."""
    await cloud.add_compute("cmp1")
    assert cloud.api is not None
    (instance,), _ = await cloud.api.create(ctxt, "2", IMAGE.id, name="web")
    assert instance.vm_state == vm_states.BUILDING and instance.task_state == "scheduling"
    (done,) = await wait_settled(cloud, [instance.uuid])
    assert done.vm_state == vm_states.ACTIVE
    assert done.power_state == power_state.RUNNING
    assert done.launched_at is not None
    assert (done.host, done.node, done.launched_on) == ("cmp1", "cmp1", "cmp1")
    assert instance.uuid in cloud.driver("cmp1").guests
    actions = await cloud.db.actions_get(None, instance.uuid)
    assert [a.action for a in actions] == ["create"]
    events = {e.event: e.result for e in actions[0].events}
    assert events == {"compute__do_build_and_run_instance": "Success"}
