"""The real ``nova`` CLI (python-novaclient, negotiating 2.60) against ``aionova all-in-one``."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients.conftest import Cloud, fields, start_cloud, table

UBUNTU = "a2459075-d96c-40d5-893e-577ff92e721c"


def get(cloud: Cloud, path: str, version: str = "2.60") -> Any:
    request = urllib.request.Request(
        cloud.endpoint + path,
        headers={"X-Auth-Token": "notused", "OpenStack-API-Version": f"compute {version}"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def server(cloud: Cloud, name: str) -> dict[str, Any]:
    found = get(cloud, f"/servers/detail?name=^{name}$")["servers"]
    assert len(found) == 1, found
    return found[0]


def wait_server(cloud: Cloud, name: str, timeout: float = 30.0, **want: Any) -> dict[str, Any]:
    """Poll until every ``want`` field matches (``host`` means OS-EXT-SRV-ATTR:host)."""
    deadline = time.monotonic() + timeout
    while True:
        s = server(cloud, name)
        view = {**s, "host": s.get("OS-EXT-SRV-ATTR:host"), "task": s["OS-EXT-STS:task_state"]}
        if all(v(view[k]) if callable(v) else view[k] == v for k, v in want.items()):
            return s
        assert time.monotonic() < deadline, f"{name}: wanted {want}, last {view}"
        time.sleep(0.2)


def boot(cloud: Cloud, name: str, *extra: str) -> dict[str, Any]:
    """``nova boot --poll`` one m1.tiny cirros server; its view once ACTIVE."""
    cloud.nova("boot", "--flavor", "m1.tiny", "--image", "cirros", *extra, "--poll", name)
    return wait_server(cloud, name, status="ACTIVE", task=None)


def wait_gone(cloud: Cloud, uuid: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(cloud, f"/servers/{uuid}")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
            return
        assert time.monotonic() < deadline, f"{uuid} still there"
        time.sleep(0.2)


def test_versions_and_flavors(cloud: Cloud) -> None:
    assert "2.60" in cloud.nova("version-list")
    names = {row["Name"] for row in table(cloud.nova("flavor-list"))}
    assert {"m1.tiny", "m1.small", "m1.medium"} <= names
    assert fields(cloud.nova("flavor-show", "m1.tiny"))["name"] == "m1.tiny"
    assert fields(cloud.nova("flavor-show", "1"))["ram"] == "512"
    flavors = cloud.openstack_json("flavor", "list")
    assert "m1.tiny" in {f["Name"] for f in flavors}  # type: ignore[union-attr]


def test_services_and_hypervisors(cloud: Cloud) -> None:
    rows = table(cloud.nova("service-list", "--binary", "nova-compute"))
    assert sorted(r["Host"] for r in rows) == ["compute1", "compute2", "compute3"]
    assert {r["State"] for r in rows} == {"up"} and all(len(r["Id"]) == 36 for r in rows)
    hyp = table(cloud.nova("hypervisor-list"))
    assert sorted(r["Hypervisor hostname"] for r in hyp) == ["compute1", "compute2", "compute3"]
    old = table(cloud.nova("service-list", version="2.1"))
    assert all(r["Id"].isdigit() for r in old)
    svc = cloud.openstack_json("compute", "service", "list")
    assert len(svc) == 5  # type: ignore[arg-type]
    assert len(cloud.openstack_json("hypervisor", "list")) == 3  # type: ignore[arg-type]


def test_boot_three_servers(cloud: Cloud) -> None:
    names = ("boot1", "boot2", "boot3")
    for name in names:
        out = cloud.nova("boot", "--flavor", "m1.tiny", "--image", "cirros", "--poll", name)
        assert "Finished" in out or "ACTIVE" in out
    rows = {r["Name"]: r for r in table(cloud.nova("list"))}
    assert {rows[n]["Status"] for n in names} == {"ACTIVE"}
    assert rows["boot1"]["Power State"] == "Running"
    shown = fields(cloud.nova("show", "boot1"))
    assert shown["status"] == "ACTIVE" and "cirros" in shown["image"]
    listed = cloud.openstack_json("server", "list")
    assert set(names) <= {s["Name"] for s in listed}  # type: ignore[union-attr]


def test_reboot_rebuild_stop_start(cloud: Cloud) -> None:
    boot(cloud, "vm1")
    boot(cloud, "vm2")
    cloud.nova("reboot", "vm1")
    wait_server(cloud, "vm1", status="ACTIVE", task=None)
    cloud.nova("reboot", "--hard", "vm1")
    wait_server(cloud, "vm1", status="ACTIVE", task=None)
    cloud.nova("rebuild", "vm1", "ubuntu")
    s = wait_server(cloud, "vm1", status="ACTIVE", task=None)
    assert s["image"]["id"] == UBUNTU
    cloud.nova("stop", "vm2")
    wait_server(cloud, "vm2", status="SHUTOFF", task=None)
    assert "409" in cloud.nova("reboot", "vm2", ok=False)  # soft reboot needs ACTIVE
    cloud.nova("start", "vm2")
    wait_server(cloud, "vm2", status="ACTIVE", task=None)
    actions = [r["Action"] for r in table(cloud.nova("instance-action-list", "vm1"))]
    assert sorted(actions) == ["create", "reboot", "reboot", "rebuild"]
    events = [r["Action"] for r in table(cloud.nova("instance-action-list", "vm2"))]
    assert sorted(events) == ["create", "start", "stop"]


def _compute_uuid(cloud: Cloud, host: str) -> str:
    rows = table(cloud.nova("service-list", "--host", host, "--binary", "nova-compute"))
    return rows[0]["Id"]


@pytest.fixture
def own_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """An all-in-one for one test (evacuation leaves a compute forced down)."""
    yield from start_cloud(tmp_path_factory.mktemp("evacuate"))


def test_evacuate(own_cloud: Cloud) -> None:
    cloud = own_cloud
    source = boot(cloud, "vm3")["OS-EXT-SRV-ATTR:host"]
    others = sorted({"compute1", "compute2", "compute3"} - {source})
    for name in ("vm4", "vm5"):
        cloud.nova(
            "boot",
            "--flavor",
            "m1.tiny",
            "--image",
            "cirros",
            "--availability-zone",
            f"nova:{source}",
            "--poll",
            name,
        )
        assert server(cloud, name)["OS-EXT-SRV-ATTR:host"] == source
    refused = cloud.nova("evacuate", "vm3", ok=False)
    assert "(HTTP 400)" in refused and "in use" in refused
    out = cloud.nova("service-force-down", _compute_uuid(cloud, source))
    assert "True" in out
    state = table(cloud.nova("service-list", "--host", source, "--binary", "nova-compute"))
    assert state[0]["State"] == "down" and state[0]["Forced down"] == "True"
    cloud.nova("evacuate", "vm3")  # scheduler picks
    cloud.nova("evacuate", "vm4", others[0])  # requested host, scheduler validates
    cloud.nova("evacuate", "--force", "vm5", others[1], version="2.29")  # forced host
    wait_server(cloud, "vm3", status="ACTIVE", task=None, host=lambda h: h in others)
    wait_server(cloud, "vm4", status="ACTIVE", task=None, host=others[0])
    wait_server(cloud, "vm5", status="ACTIVE", task=None, host=others[1])
    deadline = time.monotonic() + 20
    while True:
        rows = table(cloud.nova("migration-list"))
        evac = [r for r in rows if r.get("Type") == "evacuation"]
        if len(evac) == 3 and {r["Status"] for r in evac} == {"done"}:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.5)
    assert {r["Source Compute"] for r in evac} == {source}
    actions = [r["Action"] for r in table(cloud.nova("instance-action-list", "vm3"))]
    assert "evacuate" in actions
    refused = cloud.nova("service-force-down", "--unset", _compute_uuid(cloud, source), ok=False)
    assert "(HTTP 400)" in refused


def test_legacy_force_down_by_host(cloud: Cloud) -> None:
    rows = table(cloud.nova("service-list", "--binary", "nova-compute", version="2.11"))
    host = next(r["Host"] for r in rows if r["Forced down"] == "False")
    rows = table(cloud.nova("service-list", "--host", host, version="2.11"))
    assert rows[0]["Forced down"] == "False"
    cloud.nova("service-force-down", host, version="2.11")
    assert table(cloud.nova("service-list", "--host", host, version="2.11"))[0]["State"] == "down"
    cloud.nova("service-force-down", "--unset", host, version="2.11")
    deadline = time.monotonic() + 10
    while table(cloud.nova("service-list", "--host", host))[0]["State"] != "up":
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_delete(cloud: Cloud) -> None:
    uuid = boot(cloud, "del1")["id"]
    cloud.nova("delete", "del1")
    wait_gone(cloud, uuid)
    assert "del1" not in {r["Name"] for r in table(cloud.nova("list"))}
    assert "No server with a name or ID" in cloud.nova("show", "del1", ok=False)
    actions = [r["Action"] for r in table(cloud.nova("instance-action-list", uuid))]
    assert "delete" in actions  # kept after deletion (2.21+)


def test_update_name_and_description(cloud: Cloud) -> None:
    cloud.nova("boot", "--flavor", "m1.tiny", "--image", "cirros", "--poll", "upd1")
    uuid = server(cloud, "upd1")["id"]
    cloud.nova("update", "upd1", "--name", "upd2")  # PUT /servers/{id} at 2.60
    assert server(cloud, "upd2")["id"] == uuid
    assert "upd1" not in {r["Name"] for r in table(cloud.nova("list"))}
    cloud.nova("update", "upd2", "--description", "web tier")
    shown = fields(cloud.nova("show", "upd2"))
    assert shown["name"] == "upd2" and shown["description"] == "web tier"
    cloud.nova("update", "upd2", "--name", "upd3", version="2.18")  # a name only, before 2.19
    assert get(cloud, f"/servers/{uuid}", version="2.19")["server"]["description"] == "web tier"
    refused = cloud.nova("update", "upd3", "--name", "trailing ", ok=False)
    assert "(HTTP 400)" in refused, refused
    cloud.nova("update", "upd3", "--description", "")
    assert get(cloud, f"/servers/{uuid}")["server"]["description"] in ("", None)
    assert server(cloud, "upd3")["id"] == uuid


def test_availability_zone_list(cloud: Cloud) -> None:
    """``nova availability-zone-list`` prints the detail view as a tree: zone, ``|- host``,
    ``| |- service`` with ``enabled :-)`` (up) or ``enabled XXX`` (down)."""
    rows = []  # its Name cells contain "|", so table() cannot split them
    for line in cloud.nova("availability-zone-list").splitlines():
        if line.startswith("| "):
            name, _, status = line.rstrip().removesuffix("|").rpartition("|")
            rows.append({"Name": name[2:].rstrip(), "Status": status.strip()})
    assert rows[0] == {"Name": "Name", "Status": "Status"}
    rows = rows[1:]
    zones = {r["Name"]: r["Status"] for r in rows if not r["Name"].startswith("|")}
    assert zones == {"internal": "available", "nova": "available"}
    compute_status: dict[str, str] = {}
    zone = host = ""
    for row in rows:
        name = row["Name"]
        if not name.startswith("|"):
            zone = name
        elif name.startswith("| |- "):
            if zone == "nova" and name == "| |- nova-compute":
                compute_status[host] = row["Status"]
        else:
            host = name.removeprefix("|- ")
    # Each compute is shown with the liveness service-list reports for it.
    states = {
        r["Host"]: r["State"] for r in table(cloud.nova("service-list", "--binary", "nova-compute"))
    }
    assert set(compute_status) == set(states) == {"compute1", "compute2", "compute3"}
    for name, state in states.items():
        mark = ":-)" if state == "up" else "XXX"
        assert compute_status[name].startswith(f"enabled {mark} "), (name, state, compute_status)
