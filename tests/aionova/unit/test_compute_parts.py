"""Claims (Newton model, §9 69-70), servicegroup (§9 74-75), keyed locks, fake driver."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from aionova import exception
from aionova.compute.claims import test_claim as check_claim
from aionova.compute.locks import KeyedLocks
from aionova.objects import ComputeNode, Flavor, Instance, Service
from aionova.servicegroup import ServiceGroupAPI
from aionova.states import power_state
from aionova.virt.fake import FakeDriver


def _node(memory_used: int = 0, disk_used: int = 0) -> ComputeNode:
    return ComputeNode(
        uuid="n",
        host="h",
        hypervisor_hostname="h",
        vcpus=4,
        memory_mb=4096,
        local_gb=1000,
        memory_mb_used=memory_used,
        local_gb_used=disk_used,
    )


def _instance(memory: int, disk: int = 0) -> Instance:
    return Instance(
        uuid="u", flavor=Flavor(flavorid="f", name="f", memory_mb=memory, vcpus=1, root_gb=disk)
    )


def test_claims_accumulate_then_starve() -> None:
    """Scenario 69: 1024 + 2048 fit in 4096; a further 8192 is refused."""
    limits = {"memory_mb": 4096, "disk_gb": 1000}
    node = _node()
    for memory in (1024, 2048):
        check_claim(node, _instance(memory, 256), limits)
        node.memory_mb_used += memory
        node.local_gb_used += 256
    assert (node.memory_mb_used, node.local_gb_used) == (3072, 512)
    with pytest.raises(exception.ComputeResourcesUnavailable):
        check_claim(node, _instance(8192), limits)


def test_claim_limits_reasons_and_unlimited() -> None:
    """Scenario 70."""
    with pytest.raises(exception.ComputeResourcesUnavailable, match=r"Free memory 8192\.00 MB"):
        check_claim(_node(), _instance(16384), {"memory_mb": 8192})
    check_claim(_node(), _instance(16384), None)  # no limit: anything fits
    with pytest.raises(exception.ComputeResourcesUnavailable) as err:
        check_claim(_node(), _instance(16384, 2000), {"memory_mb": 8192, "disk_gb": 1000})
    assert "memory" in str(err.value) and "; Free disk" in str(err.value)


def test_service_is_up_boundaries() -> None:
    """Scenario 74: up at exactly service_down_time, down one second later;
    created_at before the first heartbeat; down_time <= report_interval -> 2.5x."""
    sg = ServiceGroupAPI(10, 60)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    seen = Service(host="h", binary="b", last_seen_up=now - dt.timedelta(seconds=60))
    assert sg.service_is_up(seen, now)
    assert not sg.service_is_up(seen, now + dt.timedelta(seconds=1))
    fresh = Service(host="h", binary="b", created_at=now)
    assert sg.service_is_up(fresh, now)
    assert ServiceGroupAPI(10, 10).service_down_time == 25


def test_forced_down_is_down() -> None:
    """Scenario 75."""
    sg = ServiceGroupAPI(10, 60)
    now = dt.datetime.now(dt.UTC)
    assert not sg.service_is_up(Service(host="h", binary="b", last_seen_up=now, forced_down=True))


async def test_keyed_locks_serialize_per_key_and_clean_up() -> None:
    locks, order = KeyedLocks(), []

    async def op(key: str, tag: str) -> None:
        async with locks(key):
            order.append(f"{tag}+")
            await asyncio.sleep(0.01)
            order.append(f"{tag}-")

    await asyncio.gather(op("a", "1"), op("a", "2"), op("b", "3"))
    a_events = [e for e in order if e[0] in "12"]
    assert a_events in (["1+", "1-", "2+", "2-"], ["2+", "2-", "1+", "1-"])
    assert len(locks) == 0


async def test_fake_driver_power_states_and_faults() -> None:
    driver = FakeDriver()
    inst = _instance(512)
    inst.image_ref = "img"
    await driver.spawn(inst, None)
    assert driver.get_info(inst).state == power_state.RUNNING
    await driver.power_off(inst)
    assert driver.get_info(inst).state == power_state.SHUTDOWN
    await driver.power_on(inst)
    driver.inject_fault("reboot", "crash", image_ref="img")
    with pytest.raises(exception.VirtDriverError):
        await driver.reboot(inst, "SOFT")
    assert driver.get_info(inst).state == power_state.CRASHED
    driver.inject_fault("destroy", "hang", instance_uuid="u")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await driver.destroy(inst)
    driver.clear_faults()
    await driver.destroy(inst)
    with pytest.raises(exception.InstanceNotFound):
        driver.get_info(inst)
