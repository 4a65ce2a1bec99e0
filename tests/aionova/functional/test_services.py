"""Services: baseapi, liveness (spec §7, §9 74-77) and the auto version cap (§2.5, §9 79)."""

from __future__ import annotations

import time

from aionova.baserpc import BaseAPI
from aionova.compute.manager import ComputeManager
from aionova.conductor.manager import ComputeTaskManager
from aionova.config import UpgradeLevels
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.servicegroup import ServiceGroupAPI
from aionova.states import vm_states
from tests.aionova.conftest import IMAGE, fast_config, wait_for, wait_settled


async def test_ping_and_backdoor_port(cloud: AllInOne, ctxt: RequestContext) -> None:
    """Scenario 77."""
    assert cloud.transport is not None
    await cloud.add_compute("cmp1")
    api = BaseAPI(cloud.transport, "compute")
    assert await api.ping(ctxt, "foo") == {"service": "compute", "arg": "foo"}
    assert await api.get_backdoor_port(ctxt, "cmp1") is None
    assert await BaseAPI(cloud.transport, "conductor").ping(ctxt, 1) == {
        "service": "conductor",
        "arg": 1,
    }


async def test_compute_that_stops_heartbeating_is_seen_down(cloud: AllInOne, ctxt):
    """After service_down_time without a heartbeat the compute is down and gets no builds."""
    await cloud.add_compute("cmp1")
    sg = ServiceGroupAPI(
        cloud.config.DEFAULT.report_interval, cloud.config.DEFAULT.service_down_time
    )

    async def up() -> bool:
        service = await cloud.db.service_get_by_host_and_binary(None, "cmp1", "nova-compute")
        assert service is not None
        return sg.service_is_up(service)

    await wait_for(lambda: _heartbeats(cloud, 2))
    assert await up()
    await cloud.computes.pop("cmp1").kill()
    killed = time.monotonic()
    await wait_for(_negate(up), timeout=5)
    assert time.monotonic() - killed >= sg.service_down_time - cloud.config.DEFAULT.report_interval
    assert cloud.api is not None
    (instance,), _ = await cloud.api.create(ctxt, "1", IMAGE.id)
    (done,) = await wait_settled(cloud, [instance.uuid])
    assert done.vm_state == vm_states.ERROR


async def test_mixed_fleet_auto_cap_sends_4_0(make_cloud, ctxt: RequestContext) -> None:
    """One compute still speaks 4.0: with upgrade_levels.compute=auto every client caps at
    4.0, and that compute accepts (and builds from) the messages it receives."""
    config = fast_config()
    config.upgrade_levels = UpgradeLevels(compute="auto")
    cloud = await make_cloud(config)
    await cloud.add_compute("new1")
    await cloud.add_compute("old", service_version=1, rpc_version="4.0")
    old = cloud.computes["old"].manager
    assert isinstance(old, ComputeManager) and old.target.version == "4.0"
    conductor = cloud.conductor.manager  # type: ignore[union-attr]
    task_manager = conductor.additional_endpoints[0]
    assert isinstance(task_manager, ComputeTaskManager)
    rpcapi = task_manager.compute_rpcapi
    assert await rpcapi.determine_version_cap(ctxt) == ("4.0", True)
    client = await rpcapi.client(ctxt)
    assert client.can_send_version("4.0") and not client.can_send_version("4.5")
    assert cloud.api is not None
    created = [await cloud.api.create(ctxt, "3", IMAGE.id) for _ in range(4)]
    done = await wait_settled(cloud, [c[0][0].uuid for c in created])
    assert all(i.vm_state == vm_states.ACTIVE for i in done)
    assert {i.host for i in done} == {"new1", "old"}


async def _heartbeats(cloud: AllInOne, count: int) -> bool:
    service = await cloud.db.service_get_by_host_and_binary(None, "cmp1", "nova-compute")
    return service is not None and service.report_count >= count


def _negate(predicate):
    async def inner() -> bool:
        return not await predicate()

    return inner
