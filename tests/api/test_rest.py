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
