"""POST /flavors and DELETE /flavors/{id}: Nova's body, microversion and policy rules."""

from __future__ import annotations

from tests.api.conftest import ADMIN, ALICE, Client, at

BODY = {"flavor": {"name": "m1.custom", "ram": 256, "vcpus": 1, "disk": 2}}


async def test_create_show_use_and_delete(client: Client) -> None:
    resp = await client.post("/v2.1/flavors", json=BODY, headers=ADMIN)
    assert resp.status == 200, await resp.text()
    flavor = (await resp.json())["flavor"]
    assert flavor["name"] == "m1.custom" and flavor["ram"] == 256 and flavor["disk"] == 2
    assert flavor["OS-FLV-EXT-DATA:ephemeral"] == 0 and flavor["os-flavor-access:is_public"]
    assert len(flavor["id"]) == 36  # no id given: a generated UUID
    shown = await client.get(f"/v2.1/flavors/{flavor['id']}", headers=ADMIN)
    assert (await shown.json())["flavor"]["name"] == "m1.custom"

    server = {"name": "s", "imageRef": "155d900f-4e14-4e4c-a73d-069cbf4541e6",
              "flavorRef": flavor["id"], "networks": "auto"}  # fmt: skip
    booted = await client.post("/v2.1/servers", json={"server": server}, headers=at("2.60"))
    assert booted.status == 202, await booted.text()

    gone = await client.delete(f"/v2.1/flavors/{flavor['id']}", headers=ADMIN)
    assert gone.status == 202
    missing = await client.get(f"/v2.1/flavors/{flavor['id']}", headers=ADMIN)
    assert missing.status == 404
    again = await client.delete(f"/v2.1/flavors/{flavor['id']}", headers=ADMIN)
    assert again.status == 404


async def test_given_id_strings_and_description_from_2_55(client: Client) -> None:
    body = {"flavor": {"name": "f.55", "id": "my-flavor", "ram": "512", "vcpus": "2",
                       "disk": 0, "swap": "", "OS-FLV-EXT-DATA:ephemeral": 1,
                       "rxtx_factor": 1.0, "description": "for tests"}}  # fmt: skip
    resp = await client.post("/v2.1/flavors", json=body, headers=at("2.55"))
    assert resp.status == 200, await resp.text()
    flavor = (await resp.json())["flavor"]
    assert (flavor["id"], flavor["ram"], flavor["vcpus"]) == ("my-flavor", 512, 2)
    assert flavor["description"] == "for tests" and flavor["OS-FLV-EXT-DATA:ephemeral"] == 1
    old = await client.post("/v2.1/flavors", json=body, headers=at("2.54"))
    assert old.status == 400  # description is a 2.55 field
    assert "description" in (await old.json())["badRequest"]["message"]


async def test_bad_bodies_are_400_and_create_nothing(client: Client) -> None:
    bad = [
        {},
        {"flavor": "x"},
        {"flavor": {"ram": 1, "vcpus": 1, "disk": 1}},
        {"flavor": {"name": " lead", "ram": 1, "vcpus": 1, "disk": 1}},
        {"flavor": {"name": "n", "ram": 0, "vcpus": 1, "disk": 1}},
        {"flavor": {"name": "n", "ram": 1, "vcpus": -1, "disk": 1}},
        {"flavor": {"name": "n", "ram": 1, "vcpus": 1, "disk": "x"}},
        {"flavor": {"name": "n", "ram": 1, "vcpus": 1, "disk": 1, "id": "bad/id"}},
        {"flavor": {"name": "n", "ram": True, "vcpus": 1, "disk": 1}},
        {"flavor": {"name": "n", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": 0}},
        {"flavor": {"name": "n", "ram": 1, "vcpus": 1, "disk": 1, "extra": 1}},
        {"flavor": {"name": "n", "ram": 2**31, "vcpus": 1, "disk": 1}},
    ]
    before = await (await client.get("/v2.1/flavors", headers=ADMIN)).json()
    for body in bad:
        resp = await client.post("/v2.1/flavors", json=body, headers=ADMIN)
        assert resp.status == 400, (body, await resp.text())
    raw = await client.post("/v2.1/flavors", data=b"{not json", headers=ADMIN)
    assert raw.status == 400
    after = await (await client.get("/v2.1/flavors", headers=ADMIN)).json()
    assert after == before


async def test_duplicates_are_409(client: Client) -> None:
    body = {"flavor": {"name": "dup", "id": "dup-id", "ram": 64, "vcpus": 1, "disk": 0}}
    assert (await client.post("/v2.1/flavors", json=body, headers=ADMIN)).status == 200
    same_id = {"flavor": {**body["flavor"], "name": "other"}}
    resp = await client.post("/v2.1/flavors", json=same_id, headers=ADMIN)
    assert resp.status == 409 and "ID dup-id" in await resp.text()
    same_name = {"flavor": {**body["flavor"], "id": "other-id"}}
    resp = await client.post("/v2.1/flavors", json=same_name, headers=ADMIN)
    assert resp.status == 409 and "name dup" in await resp.text()


async def test_only_admins_manage_flavors(client: Client) -> None:
    resp = await client.post("/v2.1/flavors", json=BODY, headers=ALICE)
    assert resp.status == 403
    assert "os_compute_api:os-flavor-manage:create" in await resp.text()
    resp = await client.delete("/v2.1/flavors/1", headers=ALICE)
    assert resp.status == 403
    assert "os_compute_api:os-flavor-manage:delete" in await resp.text()
    assert (await client.get("/v2.1/flavors/1", headers=ALICE)).status == 200
