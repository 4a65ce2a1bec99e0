"""The control plane emits Nova's notifications, in each format, where Nova emits them.

A listener of the public API (a pool of its own, exchange ``nova``) watches an
all-in-one on ``memory://`` through boots, reboots, rebuilds, evacuations, power
off/on, deletes and a failed build: per instance, the events arrive in Nova's
order, from Nova's publishers, at Nova's priorities.
"""

from __future__ import annotations

import msgspec
import pytest

from aionova.context import RequestContext
from aionova.states import vm_states
from tests.aionova.conftest import IMAGE, MakeCloud, boot, wait_settled, wait_state
from tests.aionova.functional.test_evacuate import ADMIN, force_down
from tests.aionova.notifying import (
    BOOT,
    DELETE,
    EVACUATE,
    FAILED_BUILD,
    POWER_OFF,
    POWER_ON,
    REBOOT,
    REBUILD,
    expected,
    listening,
    steady_config,
    steps,
    wait_moved,
    with_notifications,
)

FORMATS = ["unversioned", "versioned", "both"]


def publishers_are_novas(seen: list, host: str) -> None:
    """Legacy ``compute.<host>``, versioned ``nova-compute:<host>`` (compute events)."""
    for s in seen:
        if s.event_type.startswith("compute.instance."):
            assert s.publisher == f"compute.{host}", s
        else:
            assert s.publisher == f"nova-compute:{host}", s


@pytest.mark.parametrize("fmt", FORMATS)
async def test_boot_reboot_rebuild_power_delete(
    make_cloud: MakeCloud, ctxt: RequestContext, fmt: str
) -> None:
    cloud = await make_cloud(with_notifications(steady_config(), fmt))
    await cloud.add_compute("cmp1")
    api = cloud.api
    assert api is not None
    async with listening(cloud.url) as events:
        (inst,) = await boot(cloud, ctxt)
        want = expected(fmt, BOOT)
        seen = await events.wait_for_types(inst.uuid, want)
        publishers_are_novas(seen, "cmp1")
        flow = BOOT
        for kind in ("SOFT", "HARD"):
            await api.reboot(ctxt, await api.get(ctxt, inst.uuid), kind)
            flow = flow + REBOOT
            await events.wait_for_types(inst.uuid, expected(fmt, flow))
        await api.rebuild(ctxt, await api.get(ctxt, inst.uuid), IMAGE.id)
        flow = flow + REBUILD
        await events.wait_for_types(inst.uuid, expected(fmt, flow))
        await api.stop(ctxt, await api.get(ctxt, inst.uuid))
        await wait_state(cloud, inst.uuid, vm_states.STOPPED)
        await api.start(ctxt, await api.get(ctxt, inst.uuid))
        flow = flow + POWER_OFF + POWER_ON
        await events.wait_for_types(inst.uuid, expected(fmt, flow))
        await api.delete(ctxt, await api.get(ctxt, inst.uuid))
        flow = flow + DELETE
        seen = await events.wait_for_types(inst.uuid, expected(fmt, flow))
    assert [s.event_type for s in seen] == expected(fmt, flow)
    assert all(s.priority == "INFO" for s in seen)
    scheduled = [s for s in seen if "rebuild_scheduled" in s.event_type]
    assert all(s.publisher == "nova-conductor:cmp1" for s in scheduled)
    legacy_scheduled = [s for s in seen if s.event_type == "compute.instance.rebuild.scheduled"]
    assert all(s.publisher == "compute.control" for s in legacy_scheduled)  # the conductor's host
    publishers_are_novas([s for s in seen if "scheduled" not in s.event_type], "cmp1")
    states = {s.event_type: s for s in seen}
    if fmt != "unversioned":
        end = states["instance.reboot.end"].payload["nova_object.data"]
        assert end["uuid"] == inst.uuid and end["state"] == "active" and end["task_state"] is None
        assert states["instance.power_off.end"].payload["nova_object.data"]["state"] == "stopped"
        assert states["instance.rebuild.start"].payload["nova_object.name"] == (
            "InstanceActionRebuildPayload"
        )
    if fmt != "versioned":
        start = states["compute.instance.create.start"].payload
        assert start["instance_id"] == inst.uuid and start["image_name"] == IMAGE.name
        assert states["compute.instance.create.end"].payload["message"] == "Success"
        assert states["compute.instance.exists"].payload["audit_period_ending"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_evacuation(make_cloud: MakeCloud, ctxt: RequestContext, fmt: str) -> None:
    cloud = await make_cloud(with_notifications(steady_config(), fmt))
    await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    assert cloud.api is not None
    async with listening(cloud.url) as events:
        (inst,) = await boot(cloud, ctxt, host="cmp1")
        await force_down(cloud, "cmp1")
        await cloud.api.evacuate(ADMIN, await cloud.api.get(ADMIN, inst.uuid))
        flow = BOOT + EVACUATE
        seen = await events.wait_for_types(inst.uuid, expected(fmt, flow))
    await wait_moved(cloud, inst.uuid, "cmp2")
    assert [s.event_type for s in seen] == expected(fmt, flow)
    by_type = {s.event_type: s.publisher for s in seen}
    if fmt != "unversioned":
        assert by_type["instance.evacuate"] == "nova-api:control"
        assert by_type["instance.rebuild_scheduled"] == "nova-conductor:cmp2"
        assert by_type["instance.rebuild.end"] == "nova-compute:cmp2"
        assert by_type["instance.create.end"] == "nova-compute:cmp1"
    if fmt != "versioned":
        assert by_type["compute.instance.evacuate"] == "compute.control"
        assert by_type["compute.instance.rebuild.start"] == "compute.cmp2"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_failed_build(make_cloud: MakeCloud, ctxt: RequestContext, fmt: str) -> None:
    config = steady_config()
    config = msgspec.structs.replace(
        config, scheduler=msgspec.structs.replace(config.scheduler, max_attempts=1)
    )
    cloud = await make_cloud(with_notifications(config, fmt))
    await cloud.add_compute("cmp1")
    cloud.driver("cmp1").inject_fault("spawn", "fail", image_ref=IMAGE.id)
    assert cloud.api is not None
    async with listening(cloud.url) as events:
        (inst,), _ = await cloud.api.create(ctxt, "1", IMAGE.id)
        (done,) = await wait_settled(cloud, [inst.uuid])
        assert done.vm_state == vm_states.ERROR
        want = expected(fmt, FAILED_BUILD)
        await events.wait(lambda: len(events.seen) >= len(want))
    about = [s for s in events.seen if not s.event_type.startswith("service.")]
    assert [s.event_type for s in about] == want
    for s in about:
        failed = s.event_type.endswith(".error") or s.event_type in (
            "compute.exception",
            "build_and_run_instance",
        )
        assert s.priority == ("ERROR" if failed else "INFO"), s
        assert s.publisher in ("compute.cmp1", "nova-compute:cmp1"), s
    by_type = {s.event_type: s.payload for s in about}
    if fmt != "unversioned":
        error = by_type["instance.create.error"]["nova_object.data"]
        assert error["fault"]["nova_object.data"]["exception"] == "VirtDriverError"
        exc = by_type["compute.exception"]
        assert exc["nova_object.name"] == "ExceptionPayload"
        assert exc["nova_object.data"]["exception"] == "RescheduledException"
    if fmt != "versioned":
        legacy = by_type["compute.instance.create.error"]
        assert "VirtDriverError" in legacy["exception"] and legacy["code"] == 500
        assert by_type["build_and_run_instance"]["args"]["instance"]["uuid"] == inst.uuid


async def test_local_delete_is_notified_by_the_api(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    """A delete while the compute is down happens in the API: nova-api publishes it."""
    cloud = await make_cloud(with_notifications(steady_config(), "both"))
    await cloud.add_compute("cmp1")
    assert cloud.api is not None
    async with listening(cloud.url) as events:
        (inst,) = await boot(cloud, ctxt)
        await force_down(cloud, "cmp1")
        await cloud.api.delete(ctxt, await cloud.api.get(ctxt, inst.uuid))
        flow = [*BOOT, ("compute.instance.delete.start", "instance.delete.start")]
        flow += [("compute.instance.delete.end", "instance.delete.end")]
        seen = await events.wait_for_types(inst.uuid, expected("both", flow))
    assert [s.event_type for s in seen] == expected("both", flow)
    assert [s.publisher for s in seen[4:]] == ["compute.control", "nova-api:control"] * 2
    end = seen[-1].payload["nova_object.data"]
    assert end["state"] == "deleted" and end["deleted_at"] is not None


async def test_failed_reboots_and_rebuild(make_cloud: MakeCloud, ctxt: RequestContext) -> None:
    """A reboot that fails while the guest runs: ``reboot.error`` then ``reboot.end``
    (Nova's); one that leaves the guest down, and a failed rebuild: the method fails,
    so ``compute.exception`` (and the legacy event named after the method), with
    ``rebuild.error`` before it."""
    cloud = await make_cloud(with_notifications(steady_config(), "both"))
    await cloud.add_compute("cmp1")
    api, driver = cloud.api, cloud.driver("cmp1")
    assert api is not None
    async with listening(cloud.url) as events:
        (inst,) = await boot(cloud, ctxt)
        driver.inject_fault("reboot", "fail", instance_uuid=inst.uuid)
        await api.reboot(ctxt, await api.get(ctxt, inst.uuid), "SOFT")
        flow = BOOT + steps("reboot.start", "reboot.error", "reboot.end")
        await events.wait_for_types(inst.uuid, expected("both", flow))
        await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
        driver.inject_fault("reboot", "crash", instance_uuid=inst.uuid)
        await api.reboot(ctxt, await api.get(ctxt, inst.uuid), "HARD")
        await wait_state(cloud, inst.uuid, vm_states.ERROR)
        flow = [*flow, *steps("reboot.start"), ("reboot_instance", None)]
        await events.wait_for_types(inst.uuid, expected("both", flow))
        await events.wait(lambda: any(s.event_type == "compute.exception" for s in events.seen))
        driver.clear_faults()
        driver.inject_fault("rebuild", "fail", instance_uuid=inst.uuid)
        await api.rebuild(ADMIN, await api.get(ADMIN, inst.uuid), IMAGE.id)
        flow += [*steps("rebuild.scheduled", "exists", "rebuild.start", "rebuild.error")]
        flow += [("rebuild_instance", None)]
        seen = await events.wait_for_types(inst.uuid, expected("both", flow))
        await events.wait(
            lambda: sum(s.event_type == "compute.exception" for s in events.seen) == 2
        )
    assert [s.event_type for s in seen] == expected("both", flow)
    errors = {s.event_type for s in seen if s.priority == "ERROR"}
    assert errors == {
        "compute.instance.reboot.error",
        "instance.reboot.error",
        "reboot_instance",
        "compute.instance.rebuild.error",
        "instance.rebuild.error",
        "rebuild_instance",
    }
    exceptions = [s for s in events.seen if s.event_type == "compute.exception"]
    assert [s.priority for s in exceptions] == ["ERROR", "ERROR"]
    assert {s.publisher for s in exceptions} == {"nova-compute:cmp1"}
    names = [s.payload["nova_object.data"]["exception"] for s in exceptions]
    assert names == ["VirtDriverError", "VirtDriverError"]
    rebuild_error = next(s for s in seen if s.event_type == "instance.rebuild.error")
    fault = rebuild_error.payload["nova_object.data"]["fault"]["nova_object.data"]
    assert "injected fail in rebuild" in fault["exception_message"]
