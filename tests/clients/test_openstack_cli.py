"""The real ``openstack`` CLI (python-openstackclient / openstacksdk) against the all-in-one."""

from __future__ import annotations

from typing import Any

from tests.clients.conftest import Cloud


def show(cloud: Cloud, name: str) -> dict[str, Any]:
    value = cloud.openstack_json("server", "show", name)
    assert isinstance(value, dict)
    return value


def test_server_lifecycle(cloud: Cloud) -> None:
    created = cloud.openstack_json(
        "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--wait", "os1"
    )
    assert isinstance(created, dict) and created["status"] == "ACTIVE"
    assert show(cloud, "os1")["image"].startswith("cirros")
    cloud.openstack("server", "reboot", "--wait", "os1")
    cloud.openstack("server", "reboot", "--hard", "--wait", "os1")
    cloud.openstack("server", "rebuild", "--image", "ubuntu", "--wait", "os1")
    assert show(cloud, "os1")["image"].startswith("ubuntu")
    cloud.openstack("server", "stop", "os1")
    _wait(cloud, "os1", "SHUTOFF")
    cloud.openstack("server", "start", "os1")
    _wait(cloud, "os1", "ACTIVE")
    events = cloud.openstack_json("server", "event", "list", "os1")
    assert isinstance(events, list)
    assert {"create", "reboot", "rebuild", "stop", "start"} <= {e["Action"] for e in events}
    listed = cloud.openstack_json("server", "list", "--long")
    assert "os1" in {s["Name"] for s in listed}  # type: ignore[union-attr]
    cloud.openstack("server", "delete", "--wait", "os1")
    assert "os1" not in {s["Name"] for s in cloud.openstack_json("server", "list")}  # type: ignore[union-attr]


def test_admin_views(cloud: Cloud) -> None:
    services = cloud.openstack_json("compute", "service", "list", "--service", "nova-compute")
    assert len(services) == 3  # type: ignore[arg-type]
    hypervisors = cloud.openstack_json("hypervisor", "list")
    assert {h["Hypervisor Hostname"] for h in hypervisors} >= {"compute1"}  # type: ignore[union-attr]
    assert isinstance(cloud.openstack_json("server", "migration", "list"), list)
    images = cloud.openstack_json("image", "list")
    assert "cirros" in {i["Name"] for i in images}  # type: ignore[union-attr]


def _wait(cloud: Cloud, name: str, status: str, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while (current := show(cloud, name))["status"] != status or current.get(
        "OS-EXT-STS:task_state"
    ):
        assert time.monotonic() < deadline, current
        time.sleep(0.3)
