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


def test_server_set_name_and_description(cloud: Cloud) -> None:
    created = cloud.openstack_json(
        "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--wait", "set1"
    )
    assert isinstance(created, dict)
    cloud.openstack("server", "set", "--name", "set2", "set1")  # PUT /servers/{id}
    renamed = show(cloud, "set2")
    assert renamed["id"] == created["id"] and renamed["name"] == "set2"
    names = {s["Name"] for s in cloud.openstack_json("server", "list")}  # type: ignore[union-attr]
    assert "set2" in names and "set1" not in names
    cloud.openstack(
        "--os-compute-api-version", "2.19", "server", "set", "--description", "web tier", "set2"
    )
    assert show(cloud, "set2")["description"] == "web tier"
    # Without a version flag openstacksdk negotiates the server's maximum (2.60 >= 2.19).
    cloud.openstack("server", "set", "--description", "db tier", "set2")
    assert show(cloud, "set2")["description"] == "db tier"
    refused = cloud.openstack("server", "set", "--name", " padded", "set2", ok=False)
    assert "400" in refused, refused
    assert show(cloud, "set2")["name"] == "set2"
    cloud.openstack("server", "delete", "--wait", "set2")


def test_availability_zone_list(cloud: Cloud) -> None:
    zones = cloud.openstack_json("availability", "zone", "list", "--compute")
    assert isinstance(zones, list)
    assert {"Zone Name": "nova", "Zone Status": "available"} in zones
    rows = cloud.openstack_json("availability", "zone", "list", "--compute", "--long")
    assert isinstance(rows, list)
    computes = {r["Host Name"]: r for r in rows if r["Service Name"] == "nova-compute"}
    assert set(computes) == {"compute1", "compute2", "compute3"}
    for row in computes.values():
        assert row["Zone Name"] == "nova" and row["Zone Status"] == "available"
        assert row["Service Status"].startswith("enabled :-) "), row
    internal = {r["Service Name"] for r in rows if r["Zone Name"] == "internal"}
    assert {"nova-conductor", "nova-scheduler"} <= internal
