"""The REST surface in-process: documents, errors, microversions, shapes."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.conftest import ADMIN, CIRROS, at, boot

Client = TestClient[Any, Any]


async def test_version_documents_need_no_token(client: Client) -> None:
    doc = await (await client.get("/v2.1")).json()
    assert doc["version"]["version"] == "2.60" and doc["version"]["min_version"] == "2.1"
    assert doc["version"]["links"][0]["rel"] == "self"
    assert (await client.get("/v2.1/")).status == 200
    assert len((await (await client.get("/")).json())["versions"]) == 2
    glance = await (await client.get("/image")).json()
    assert glance["versions"][0]["links"][0]["href"].endswith("/image/v2/")


async def test_microversion_headers(client: Client) -> None:
    resp = await client.get("/v2.1/flavors", headers=at("2.53"))
    assert resp.headers["OpenStack-API-Version"] == "compute 2.53"
    assert resp.headers["x-compute-request-id"].startswith("req-")
    legacy = {**ADMIN, "X-OpenStack-Nova-API-Version": "2.11"}
    resp = await client.get("/v2.1/flavors", headers=legacy)
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.11"
    resp = await client.get("/v2.1/flavors", headers=at("latest"))
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.60"
    assert (await client.get("/v2.1/flavors", headers=at("2.61"))).status == 406
    assert (await client.get("/v2.1/flavors", headers=at("two"))).status == 400


async def test_errors_are_nova_shaped(client: Client) -> None:
    resp = await client.get("/v2.1/servers/vm-by-name", headers=ADMIN)
    assert resp.status == 404
    assert (await resp.json())["itemNotFound"]["code"] == 404
    resp = await client.get("/v2.1/flavors/m1.tiny", headers=ADMIN)
    assert resp.status == 404
    resp = await client.post("/v2.1/servers", data=b"{not json", headers=ADMIN)
    assert resp.status == 400 and "badRequest" in await resp.json()
    resp = await client.get("/v2.1/nothing-here", headers=ADMIN)
    assert resp.status == 404 and "itemNotFound" in await resp.json()


async def test_flavor_shapes_follow_the_version(client: Client) -> None:
    old = (await (await client.get("/v2.1/flavors/1", headers=at("2.1"))).json())["flavor"]
    new = (await (await client.get("/v2.1/flavors/1", headers=at("2.55"))).json())["flavor"]
    assert "description" not in old and new["description"] is None
    assert old["links"] and old["swap"] == ""
    listed = await (await client.get("/v2.1/flavors/detail?is_public=None", headers=ADMIN)).json()
    assert {f["name"] for f in listed["flavors"]} >= {"m1.tiny", "m1.small"}


async def test_images_in_glance_shape(client: Client) -> None:
    flat = await (await client.get(f"/v2.1/v2/images/{CIRROS}", headers=ADMIN)).json()
    assert flat["id"] == CIRROS and flat["status"] == "active"
    named = await (await client.get("/image/v2/images?name=cirros", headers=ADMIN)).json()
    assert [i["id"] for i in named["images"]] == [CIRROS]
    assert (await client.get("/image/v2/images/cirros", headers=ADMIN)).status == 404


async def test_boot_list_show(client: Client) -> None:
    uuid = await boot(client, "web", ADMIN)
    for _ in range(200):
        body = await (await client.get(f"/v2.1/servers/{uuid}", headers=at("2.60"))).json()
        if body["server"]["status"] == "ACTIVE":
            break
        await asyncio.sleep(0.02)
    server = body["server"]
    assert server["OS-EXT-SRV-ATTR:host"] in ("compute1", "compute2")
    assert server["flavor"]["original_name"] == "m1.tiny"
    assert server["host_status"] == "UP"
    old = await (await client.get(f"/v2.1/servers/{uuid}", headers=at("2.1"))).json()
    assert old["server"]["flavor"]["id"] == "1"
    listed = await (await client.get("/v2.1/servers?name=we", headers=ADMIN)).json()
    assert [s["id"] for s in listed["servers"]] == [uuid]
    assert (await (await client.get("/v2.1/servers?name=zz", headers=ADMIN)).json()) == {
        "servers": []
    }


async def test_create_validation(client: Client) -> None:
    bad_bodies: list[Any] = [
        {"server": {"name": "x", "imageRef": CIRROS, "flavorRef": "1"}},  # networks at 2.37+
        {"server": {"name": "", "imageRef": CIRROS, "flavorRef": "1", "networks": "auto"}},
        {"server": {"name": "x", "imageRef": CIRROS, "flavorRef": "nope", "networks": "auto"}},
        {"server": {"name": "x", "imageRef": "nope", "flavorRef": "1", "networks": "auto"}},
        {"server": {"name": "x", "flavorRef": "1", "networks": "auto", "min_count": 0}},
        {"server": []},
        [],
    ]
    for body in bad_bodies:
        resp = await client.post("/v2.1/servers", json=body, headers=at("2.60"))
        assert resp.status == 400, (body, await resp.text())
    resp = await client.post(
        "/v2.1/servers",
        json={"server": {"name": "old", "imageRef": CIRROS, "flavorRef": "1"}},
        headers=at("2.36"),
    )
    assert resp.status == 202


async def test_services_by_uuid_and_legacy_force_down(client: Client) -> None:
    services = (await (await client.get("/v2.1/os-services", headers=at("2.53"))).json())[
        "services"
    ]
    compute = next(s for s in services if s["host"] == "compute1")
    conductor = next(s for s in services if s["binary"] == "nova-conductor")
    url = f"/v2.1/os-services/{compute['id']}"
    resp = await client.put(url, json={"forced_down": True}, headers=at("2.53"))
    assert resp.status == 200
    view = (await resp.json())["service"]
    assert view["forced_down"] is True and view["state"] == "down"
    assert (await client.put(url, json={}, headers=at("2.53"))).status == 400
    resp = await client.put(
        f"/v2.1/os-services/{conductor['id']}", json={"forced_down": True}, headers=at("2.53")
    )
    assert resp.status == 400
    resp = await client.put("/v2.1/os-services/force-down", json={}, headers=at("2.53"))
    assert resp.status == 400
    body = {"host": "compute1", "binary": "nova-compute", "forced_down": False}
    resp = await client.put("/v2.1/os-services/force-down", json=body, headers=at("2.11"))
    assert resp.status == 200 and (await resp.json())["service"]["forced_down"] is False
    assert (
        await client.put("/v2.1/os-services/force-down", json=body, headers=at("2.10"))
    ).status == 404
    legacy = (await (await client.get("/v2.1/os-services", headers=at("2.10"))).json())["services"]
    assert isinstance(legacy[0]["id"], int) and "forced_down" not in legacy[0]


async def test_hypervisors(client: Client) -> None:
    new = await (await client.get("/v2.1/os-hypervisors", headers=at("2.53"))).json()
    assert len(new["hypervisors"]) == 2 and len(new["hypervisors"][0]["id"]) == 36
    old = await (await client.get("/v2.1/os-hypervisors/detail", headers=at("2.1"))).json()
    assert isinstance(old["hypervisors"][0]["id"], int) and "vcpus" in old["hypervisors"][0]
    found = await client.get("/v2.1/os-hypervisors/compute2/search", headers=at("2.1"))
    assert [h["hypervisor_hostname"] for h in (await found.json())["hypervisors"]] == ["compute2"]


async def test_instance_actions_recorded(client: Client) -> None:
    uuid = await boot(client, "acted", ADMIN)
    resp = await client.get(f"/v2.1/servers/{uuid}/os-instance-actions", headers=at("2.60"))
    actions = (await resp.json())["instanceActions"]
    assert [a["action"] for a in actions] == ["create"] and "updated_at" in actions[0]
    req = actions[0]["request_id"]
    one = await client.get(f"/v2.1/servers/{uuid}/os-instance-actions/{req}", headers=ADMIN)
    assert (await one.json())["instanceAction"]["action"] == "create"
    missing = await client.get(f"/v2.1/servers/{uuid}/os-instance-actions/req-x", headers=ADMIN)
    assert missing.status == 404


async def test_evacuate_bodies_per_microversion(client: Client) -> None:
    uuid = await boot(client, "evac", ADMIN)
    for _ in range(200):
        view = (await (await client.get(f"/v2.1/servers/{uuid}", headers=ADMIN)).json())["server"]
        if view["status"] == "ACTIVE":
            break
        await asyncio.sleep(0.02)
    url = f"/v2.1/servers/{uuid}/action"
    cases = [
        ("2.1", {}, 400),  # onSharedStorage required below 2.14
        ("2.14", {"onSharedStorage": False}, 400),  # gone from 2.14
        ("2.28", {"host": "compute2", "force": True}, 400),  # force from 2.29
        ("2.29", {"force": True}, 400),  # force needs a host
        ("2.60", {"host": "nowhere"}, 404),
        ("2.60", {"host": view["OS-EXT-SRV-ATTR:host"]}, 400),  # same host
        ("2.60", {}, 400),  # the source compute is still up
        ("2.60", {"bogus": 1}, 400),
    ]
    for version, body, status in cases:
        resp = await client.post(url, json={"evacuate": body}, headers=at(version))
        assert resp.status == status, (version, body, await resp.text())


async def _active(client: Client, uuid: str) -> dict[str, Any]:
    """The server once ACTIVE with no task (bounded: 200 polls)."""
    for _ in range(200):
        view = (await (await client.get(f"/v2.1/servers/{uuid}", headers=at("2.60"))).json())[
            "server"
        ]
        if view["status"] == "ACTIVE" and view["OS-EXT-STS:task_state"] is None:
            return view
        await asyncio.sleep(0.02)
    raise AssertionError(f"server {uuid} never became ACTIVE: {view}")


async def test_update_server_name_and_description(client: Client) -> None:
    uuid = await boot(client, "before", ADMIN)
    await _active(client, uuid)
    url = f"/v2.1/servers/{uuid}"
    resp = await client.put(url, json={"server": {"name": "after"}}, headers=at("2.1"))
    assert resp.status == 200, await resp.text()
    view = (await resp.json())["server"]
    assert view["name"] == "after" and view["id"] == uuid and "description" not in view
    shown = (await (await client.get(url, headers=at("2.1"))).json())["server"]
    assert shown["name"] == "after"
    assert set(view) == set(shown)  # the same shape as GET at that version
    resp = await client.put(url, json={"server": {"description": "web tier"}}, headers=at("2.19"))
    assert resp.status == 200, await resp.text()
    view = (await resp.json())["server"]
    assert view["description"] == "web tier" and view["name"] == "after"
    assert set(view) == set((await (await client.get(url, headers=at("2.19"))).json())["server"])
    shown = (await (await client.get(url, headers=at("2.60"))).json())["server"]
    assert shown["description"] == "web tier" and shown["status"] == "ACTIVE"
    listed = await (await client.get("/v2.1/servers?name=^after$", headers=ADMIN)).json()
    assert [s["id"] for s in listed["servers"]] == [uuid]
    # null removes the description; "" is kept as "" (Nova's display_description).
    body: dict[str, Any] = {"server": {"description": None}}
    view = (await (await client.put(url, json=body, headers=at("2.60"))).json())["server"]
    assert view["description"] is None
    body = {"server": {"description": "", "name": "again"}}
    view = (await (await client.put(url, json=body, headers=at("2.60"))).json())["server"]
    assert view["description"] == "" and view["name"] == "again"
    # Access IPs and the disk config are Nova's other editable attributes: stored and shown.
    body = {"server": {"accessIPv4": "192.0.2.7", "accessIPv6": "2001:db8::7"}}
    resp = await client.put(url, json=body, headers=at("2.1"))
    assert resp.status == 200, await resp.text()
    shown = (await (await client.get(url, headers=ADMIN)).json())["server"]
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("192.0.2.7", "2001:db8::7")
    resp = await client.put(url, json={"server": {"OS-DCF:diskConfig": "AUTO"}}, headers=ADMIN)
    assert (await resp.json())["server"]["OS-DCF:diskConfig"] == "AUTO"
    # An empty update changes nothing and still answers the view.
    resp = await client.put(url, json={"server": {}}, headers=ADMIN)
    assert resp.status == 200 and (await resp.json())["server"]["name"] == "again"


async def test_update_server_validation(client: Client) -> None:
    uuid = await boot(client, "valid", ADMIN)
    url = f"/v2.1/servers/{uuid}"
    cases: list[tuple[str, Any]] = [
        ("2.1", {"server": {"description": "too early"}}),  # description from 2.19
        ("2.18", {"server": {"description": None}}),
        ("2.60", {"server": {"name": ""}}),
        ("2.60", {"server": {"name": " padded"}}),
        ("2.60", {"server": {"name": "padded "}}),
        ("2.60", {"server": {"name": "x" * 256}}),
        ("2.60", {"server": {"name": None}}),
        ("2.60", {"server": {"name": 7}}),
        ("2.60", {"server": {"name": "tab\there"}}),
        ("2.60", {"server": {"description": "d" * 256}}),
        ("2.60", {"server": {"description": "line\nbreak"}}),
        ("2.60", {"server": {"description": 1}}),
        ("2.60", {"server": {"metadata": {"a": "b"}}}),  # unknown keys are refused
        ("2.60", {"server": {"name": "ok", "imageRef": CIRROS}}),
        ("2.60", {"server": {"name": "ok"}, "extra": 1}),
        ("2.60", {"server": {"accessIPv4": "300.1.1.1"}}),
        ("2.60", {"server": {"accessIPv6": "192.0.2.1"}}),
        ("2.60", {"server": {"OS-DCF:diskConfig": "SOMETIMES"}}),
        ("2.60", {"server": "name"}),
        ("2.60", {"name": "no wrapper"}),
        ("2.60", []),
    ]
    for version, body in cases:
        resp = await client.put(url, json=body, headers=at(version))
        assert resp.status == 400, (version, body, await resp.text())
        assert "badRequest" in await resp.json()
    assert (await client.put(url, data=b"{nope", headers=ADMIN)).status == 400
    view = (await (await client.get(url, headers=at("2.60"))).json())["server"]
    assert view["name"] == "valid" and view["description"] is None
    # The longest valid name and description are accepted.
    body = {"server": {"name": "n" * 255, "description": "d" * 255}}
    assert (await client.put(url, json=body, headers=at("2.19"))).status == 200


async def test_update_server_other_project_is_404(client: Client) -> None:
    alice, bob = {"X-Auth-Token": "alice:demo"}, {"X-Auth-Token": "bob:other"}
    mine = await boot(client, "alice-vm", alice)
    url = f"/v2.1/servers/{mine}"
    resp = await client.put(url, json={"server": {"name": "stolen"}}, headers=at("2.60", bob))
    assert resp.status == 404 and "itemNotFound" in await resp.json()
    missing = "/v2.1/servers/00000000-0000-0000-0000-000000000000"
    resp = await client.put(missing, json={"server": {"name": "x"}}, headers=ADMIN)
    assert resp.status == 404
    resp = await client.put(url, json={"server": {"name": "mine"}}, headers=at("2.60", alice))
    assert resp.status == 200 and (await resp.json())["server"]["name"] == "mine"
    assert not any(k.startswith("OS-EXT-SRV-ATTR") for k in (await resp.json())["server"])
    resp = await client.put(url, json={"server": {"name": "by-admin"}}, headers=ADMIN)
    assert resp.status == 200
    view = (await (await client.get(url, headers=alice)).json())["server"]
    assert view["name"] == "by-admin"


async def test_availability_zones(client: Client) -> None:
    alice = {"X-Auth-Token": "alice:demo"}
    for headers in (alice, ADMIN, at("2.60", alice)):
        resp = await client.get("/v2.1/os-availability-zone", headers=headers)
        assert resp.status == 200
        assert await resp.json() == {
            "availabilityZoneInfo": [
                {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}
            ]
        }
    resp = await client.get("/v2.1/os-availability-zone/detail", headers=alice)
    assert resp.status == 403 and "forbidden" in await resp.json()
    resp = await client.get("/v2.1/os-availability-zone/detail", headers=ADMIN)
    assert resp.status == 200
    zones = {z["zoneName"]: z for z in (await resp.json())["availabilityZoneInfo"]}
    assert set(zones) == {"nova", "internal"}
    nova = zones["nova"]
    assert nova["zoneState"] == {"available": True}
    assert set(nova["hosts"]) == {"compute1", "compute2"}
    compute1 = nova["hosts"]["compute1"]
    assert set(compute1) == {"nova-compute"}
    assert compute1["nova-compute"]["available"] is True
    assert compute1["nova-compute"]["active"] is True
    assert (
        compute1["nova-compute"]["updated_at"] is None
        or "T" in (compute1["nova-compute"]["updated_at"])
    )
    internal = zones["internal"]
    binaries = {b for services in internal["hosts"].values() for b in services}
    assert "nova-conductor" in binaries and "nova-compute" not in binaries


async def test_availability_zone_follows_service_state(client: Client) -> None:
    services = (await (await client.get("/v2.1/os-services", headers=at("2.53"))).json())[
        "services"
    ]
    computes = {s["host"]: s["id"] for s in services if s["binary"] == "nova-compute"}
    detail_url = "/v2.1/os-availability-zone/detail"
    # A forced-down compute is listed, but not available.
    resp = await client.put(
        f"/v2.1/os-services/{computes['compute1']}", json={"forced_down": True}, headers=at("2.53")
    )
    assert resp.status == 200
    nova = next(
        z
        for z in (await (await client.get(detail_url, headers=ADMIN)).json())[
            "availabilityZoneInfo"
        ]
        if z["zoneName"] == "nova"
    )
    assert nova["hosts"]["compute1"]["nova-compute"]["available"] is False
    assert nova["hosts"]["compute2"]["nova-compute"]["available"] is True
    # A disabled compute leaves the listing; with every compute disabled the zone is
    # unavailable (and has no hosts).
    for host in ("compute1", "compute2"):
        resp = await client.put(
            f"/v2.1/os-services/{computes[host]}", json={"status": "disabled"}, headers=at("2.53")
        )
        assert resp.status == 200
    listed = await (await client.get("/v2.1/os-availability-zone", headers=ADMIN)).json()
    assert listed == {
        "availabilityZoneInfo": [
            {"zoneName": "nova", "zoneState": {"available": False}, "hosts": None}
        ]
    }
    zones = {
        z["zoneName"]: z
        for z in (await (await client.get(detail_url, headers=ADMIN)).json())[
            "availabilityZoneInfo"
        ]
    }
    assert zones["nova"] == {"zoneName": "nova", "zoneState": {"available": False}, "hosts": None}
    assert zones["internal"]["zoneState"] == {"available": True}
