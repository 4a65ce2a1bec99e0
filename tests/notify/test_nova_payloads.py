"""The control plane's notifications have Nova's shapes: versioned ones against Nova's
own samples (tests/notify/nova_samples), legacy ones against ``info_from_instance``."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aionova import exception, rpc
from aionova.notifications import Notifications, NotificationsOpts
from aionova.notifications.service import ServiceNotifications
from aionova.objects import Service
from aionova.states import power_state, task_states, vm_states
from tests.notify.instances import CTXT, HOST, WHEN, Capture, make_instance, raised

SAMPLES = Path(__file__).parent / "nova_samples"

# Nova's nullable notification fields (nova/notifications/objects/*.py, nullable=True)
NULLABLE = {
    *("user_id", "tenant_id", "reservation_id", "display_name", "display_description"),
    *("host_name", "host", "node", "os_type", "architecture", "availability_zone"),
    *("image_uuid", "key_name", "kernel_id", "ramdisk_id", "created_at", "launched_at"),
    *("terminated_at", "deleted_at", "updated_at", "state", "power_state", "task_state"),
    *("progress", "block_devices", "request_id", "action_initiator_user"),
    *("action_initiator_project", "locked_reason", "shares", "fault"),
    *("trusted_image_certificates", "instance_name", "old_display_name"),
    *("flavorid", "memory_mb", "vcpus", "root_gb", "ephemeral_gb", "rxtx_factor"),
    *("vcpu_weight", "extra_specs", "projects", "description"),
    *("binary", "topic", "disabled_reason", "last_seen_up"),
    *("old_state", "old_task_state", "new_task_state"),
}

# nova/notifications/base.py: info_from_instance (no network info given)
LEGACY_KEYS = {
    *("tenant_id", "user_id", "instance_id", "display_name", "reservation_id", "hostname"),
    *("instance_type", "instance_type_id", "instance_flavor_id", "architecture"),
    *("memory_mb", "disk_gb", "vcpus", "root_gb", "ephemeral_gb"),
    *("host", "node", "availability_zone", "cell_name"),
    *("created_at", "terminated_at", "deleted_at", "launched_at"),
    *("image_ref_url", "os_type", "kernel_id", "ramdisk_id"),
    *("state", "state_description", "progress", "access_ip_v4", "access_ip_v6"),
    *("image_meta", "metadata"),
}


def load_sample(name: str) -> dict[str, Any]:
    return resolve(json.loads((SAMPLES / f"{name}.json").read_text()), SAMPLES)


def resolve(node: Any, base: Path) -> Any:
    """Expand ``$ref``: the referenced file, with the referring object's keys laid over it."""
    if isinstance(node, list):
        return [resolve(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = base / node["$ref"].split("#")[0]
        target = resolve(json.loads(ref.read_text()), ref.parent)
        overlay = {k: v for k, v in node.items() if k != "$ref"}
        return merge(target, resolve(overlay, base))
    return {k: resolve(v, base) for k, v in node.items()}


def merge(under: Any, over: Any) -> Any:
    if isinstance(under, dict) and isinstance(over, dict):
        merged = copy.deepcopy(under)
        for key, value in over.items():
            merged[key] = merge(merged.get(key), value) if key in merged else value
        return merged
    return over


def same_shape(ours: Any, nova: Any, path: str = "payload") -> None:
    """Same keys, same object names/versions, same value types (None only if nullable)."""
    if isinstance(nova, dict) and "nova_object.name" in nova:
        assert isinstance(ours, dict), path
        assert "nova_object.changes" not in ours, path
        for key in ("nova_object.name", "nova_object.namespace", "nova_object.version"):
            assert ours[key] == nova[key], f"{path}.{key}"
        same_shape(ours["nova_object.data"], nova["nova_object.data"], path)
        return
    assert isinstance(ours, dict) and set(ours) == set(nova), (
        f"{path}: missing {sorted(set(nova) - set(ours))}, extra {sorted(set(ours) - set(nova))}"
    )
    for key, expected in nova.items():
        value, where = ours[key], f"{path}.{key}"
        if value is None or expected is None:
            assert value is expected or key in NULLABLE, f"{where}: {value!r} vs {expected!r}"
        elif isinstance(expected, dict) and "nova_object.name" in expected:
            same_shape(value, expected, where)
        elif isinstance(expected, list | dict):
            assert type(value) is type(expected), where
        else:
            assert type(value) is type(expected), f"{where}: {value!r} vs {expected!r}"


@pytest.fixture
async def setup(bus_url: str) -> AsyncIterator[tuple[Notifications, Capture]]:
    url = f"{bus_url}?control_exchange=nova"
    transport = rpc.get_notification_transport(url)
    emitter = Notifications(
        transport,
        host=HOST,
        notifications=NotificationsOpts(
            notification_format="both", notify_on_state_change="vm_and_task_state"
        ),
    )
    capture = Capture()
    targets = [rpc.Target(topic="notifications"), rpc.Target(topic="versioned_notifications")]
    async with rpc.get_notification_listener(transport, targets, [capture], max_concurrency=1):
        yield emitter, capture
        await emitter.stop()
    await transport.close()


REBOOTING = make_instance(task_state=task_states.REBOOT_PENDING_HARD)
BUILDING = make_instance(
    vm_state=vm_states.BUILDING, power_state=power_state.NOSTATE, launched_at=None, host=None
)
GONE = make_instance(
    vm_state=vm_states.DELETED, power_state=power_state.NOSTATE, deleted=True, terminated_at=WHEN
)
FAULT = exception.NoValidHost(reason="not enough hosts")

VERSIONED = {  # sample name → how aionova emits it
    "instance-create-start": lambda n: n.notify_about_instance_create(CTXT, BUILDING, "start"),
    "instance-create-end": lambda n: n.notify_about_instance_create(CTXT, make_instance(), "end"),
    "instance-create-error": lambda n: n.notify_about_instance_create(
        CTXT, BUILDING, "error", exception=raised(FAULT)
    ),
    "instance-reboot-start": lambda n: n.notify_about_instance_action(
        CTXT, REBOOTING, "reboot", "start"
    ),
    "instance-reboot-end": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(), "reboot", "end"
    ),
    "instance-reboot-error": lambda n: n.notify_about_instance_action(
        CTXT, REBOOTING, "reboot", "error", exception=raised(RuntimeError("virt"))
    ),
    "instance-rebuild-start": lambda n: n.notify_about_instance_rebuild(
        CTXT, make_instance(task_state=task_states.REBUILDING), "start"
    ),
    "instance-rebuild-end": lambda n: n.notify_about_instance_rebuild(CTXT, make_instance(), "end"),
    "instance-rebuild-error": lambda n: n.notify_about_instance_rebuild(
        CTXT, make_instance(), "error", exception=raised(FAULT)
    ),
    "instance-rebuild_scheduled": lambda n: n.notify_about_instance_rebuild(
        CTXT,
        make_instance(task_state=task_states.REBUILDING),
        action="rebuild_scheduled",
        source="nova-conductor",
    ),
    "instance-evacuate": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(task_state=task_states.REBUILDING), "evacuate", source="nova-api"
    ),
    "instance-power_off-start": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(task_state=task_states.POWERING_OFF), "power_off", "start"
    ),
    "instance-power_off-end": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(vm_state=vm_states.STOPPED), "power_off", "end"
    ),
    "instance-power_on-start": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(task_state=task_states.POWERING_ON), "power_on", "start"
    ),
    "instance-power_on-end": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(), "power_on", "end"
    ),
    "instance-delete-start": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(task_state=task_states.DELETING), "delete", "start"
    ),
    "instance-delete-end": lambda n: n.notify_about_instance_action(CTXT, GONE, "delete", "end"),
    "instance-update": lambda n: n.notify_about_instance_update(
        CTXT,
        make_instance(vm_state=vm_states.BUILDING, task_state=task_states.SCHEDULING),
        old_vm_state=vm_states.BUILDING,
        old_task_state=None,
    ),
    "instance-shutdown-start": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(task_state=task_states.DELETING), "shutdown", "start"
    ),
    "instance-shutdown-end": lambda n: n.notify_about_instance_action(
        CTXT, make_instance(task_state=task_states.DELETING), "shutdown", "end"
    ),
    "instance-exists": lambda n: ServiceNotifications(n).usage_exists(
        CTXT, make_instance(task_state=task_states.REBUILDING), image_ref_url=None
    ),
    "compute-exception": lambda n: n.notify_about_exception(CTXT, raised(FAULT), source="nova-api"),
    "service-update": lambda n: n.notify_about_service(
        CTXT,
        Service(
            host="host1",
            binary="nova-compute",
            topic="compute",
            report_count=1,
            version=66,
            uuid=str(uuid.uuid4()),
            last_seen_up=WHEN,
        ),
    ),
}


@pytest.mark.parametrize("sample", sorted(VERSIONED))
async def test_versioned_matches_nova_sample(
    sample: str, setup: tuple[Notifications, Capture]
) -> None:
    emitter, capture = setup
    VERSIONED[sample](emitter)
    expected = load_sample(sample)
    # with the legacy compute.instance.update / .exists
    count = 2 if sample in ("instance-update", "instance-exists") else 1
    await capture.wait(count)
    priority, publisher, _, payload = next(g for g in capture.got if g[2] == expected["event_type"])
    assert priority == expected["priority"]
    assert publisher.split(":")[0] == expected["publisher_id"].split(":")[0]
    same_shape(payload, expected["payload"])


async def test_versioned_values(setup: tuple[Notifications, Capture]) -> None:
    emitter, capture = setup
    emitter.notify_about_instance_action(
        CTXT, REBOOTING, "reboot", "error", exception=raised(FAULT)
    )
    await capture.wait(1)
    _, publisher, event_type, payload = capture.got[0]
    assert (publisher, event_type) == (f"nova-compute:{HOST}", "instance.reboot.error")
    data = payload["nova_object.data"]
    assert data["uuid"] == REBOOTING.uuid and data["task_state"] == "reboot_pending_hard"
    assert data["state"] == "active" and data["power_state"] == "running"
    assert data["created_at"] == "2026-11-30T16:00:00Z"
    assert data["flavor"]["nova_object.data"]["name"] == "test_flavor"
    assert data["action_initiator_user"] == "fake" and data["request_id"] == CTXT.request_id
    fault = data["fault"]["nova_object.data"]
    assert fault["exception"] == "NoValidHost" and fault["function_name"] == "raised"
    assert "not enough hosts" in fault["exception_message"]
    assert fault["module_name"] == "tests.notify.instances" and "Traceback" in fault["traceback"]


LEGACY = [  # (suffix, extra, fault)
    ("create.start", {"image_name": "cirros"}, None),
    ("create.end", {"message": "Success"}, None),
    ("create.error", None, FAULT),
    ("reboot.start", None, None),
    ("reboot.end", None, None),
    ("rebuild.start", None, None),
    ("rebuild.end", None, None),
    ("rebuild.scheduled", None, None),
    ("evacuate", None, None),
    ("power_off.start", None, None),
    ("power_off.end", None, None),
    ("power_on.start", None, None),
    ("power_on.end", None, None),
    ("delete.start", None, None),
    ("delete.end", None, None),
    ("exists", None, None),
]


async def test_legacy_payloads_are_info_from_instance(
    setup: tuple[Notifications, Capture],
) -> None:
    emitter, capture = setup
    emitter.image_api_url = "http://glance:9292"
    for suffix, extra, fault in LEGACY:
        emitter.notify_about_instance_usage(
            CTXT,
            make_instance(task_state=task_states.REBOOTING),
            suffix,
            extra_usage_info=extra,
            fault=raised(fault) if fault else None,
        )
    await capture.wait(len(LEGACY))
    assert [g[2] for g in capture.got] == [f"compute.instance.{s}" for s, _, _ in LEGACY]
    for (suffix, extra, fault), (priority, publisher, _, payload) in zip(
        LEGACY, capture.got, strict=True
    ):
        assert publisher == f"compute.{HOST}"
        assert priority == ("ERROR" if suffix.endswith("error") else "INFO")
        expected = LEGACY_KEYS | set(extra or {})
        if fault:
            expected |= {"exception", "message", "code", "fault"}
        assert set(payload) == expected
    create_error = capture.got[2][3]
    assert create_error["code"] == 500 and "not enough hosts" in create_error["message"]
    assert create_error["exception"].startswith("NoValidHost(")
    assert create_error["fault"]["message"] == create_error["message"]
    start = capture.got[0][3]
    assert start["instance_id"] == "178b0921-8f85-4257-88b6-2e743b5a975c"
    assert (start["instance_type"], start["instance_type_id"]) == ("test_flavor", 6)
    assert (start["memory_mb"], start["disk_gb"], start["vcpus"]) == (512, 1, 1)
    assert start["state"] == "active" and start["state_description"] == "rebooting"
    assert start["launched_at"] == "2026-11-30T16:00:00.123456"
    assert start["created_at"] == "2026-11-30 16:00:00.123456+00:00"
    assert (
        start["image_ref_url"] == "http://glance:9292/images/155d900f-4e14-4e4c-a73d-069cbf4541e6"
    )
    assert start["image_meta"] == {"min_disk": "1"} and start["progress"] == ""
    assert start["image_name"] == "cirros"
