"""Policy without Keystone: projects are isolated; admin-only operations refuse others."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api.conftest import ADMIN, ALICE, BOB, CIRROS, at, boot

Client = TestClient[Any, Any]


async def test_projects_are_isolated(client: Client) -> None:
    mine = await boot(client, "alice-vm", ALICE)
    assert (await client.get(f"/v2.1/servers/{mine}", headers=ALICE)).status == 200
    assert (await client.get(f"/v2.1/servers/{mine}", headers=BOB)).status == 404
    listed = await (await client.get("/v2.1/servers/detail", headers=BOB)).json()
    assert listed == {"servers": []}
    resp = await client.post(
        f"/v2.1/servers/{mine}/action", json={"reboot": {"type": "HARD"}}, headers=BOB
    )
    assert resp.status == 404
    assert (await client.delete(f"/v2.1/servers/{mine}", headers=BOB)).status == 404
    actions = await client.get(f"/v2.1/servers/{mine}/os-instance-actions", headers=BOB)
    assert actions.status == 404
    assert (await client.get("/v2.1/servers?all_tenants=1", headers=ALICE)).status == 403
    everyone = await client.get("/v2.1/servers/detail?all_tenants=1", headers=ADMIN)
    assert mine in {s["id"] for s in (await everyone.json())["servers"]}
    assert (await (await client.get("/v2.1/servers", headers=ADMIN)).json()) == {"servers": []}


async def test_hosts_hidden_from_non_admins(client: Client) -> None:
    mine = await boot(client, "alice-vm", ALICE)
    view = await (await client.get(f"/v2.1/servers/{mine}", headers=at("2.60", ALICE))).json()
    assert not any(k.startswith("OS-EXT-SRV-ATTR") for k in view["server"])
    assert "host_status" not in view["server"]
    assert (await client.get("/v2.1/servers?host=compute1", headers=ALICE)).status == 403


async def test_non_admin_cannot_evacuate_or_force_down(client: Client) -> None:
    mine = await boot(client, "alice-vm", ALICE)
    resp = await client.post(
        f"/v2.1/servers/{mine}/action", json={"evacuate": {}}, headers=at("2.60", ALICE)
    )
    assert resp.status == 403 and "forbidden" in await resp.json()
    for path in ("/v2.1/os-services", "/v2.1/os-hypervisors", "/v2.1/os-migrations"):
        assert (await client.get(path, headers=ALICE)).status == 403, path
    services = await (await client.get("/v2.1/os-services", headers=at("2.53"))).json()
    compute = next(s for s in services["services"] if s["binary"] == "nova-compute")
    resp = await client.put(
        f"/v2.1/os-services/{compute['id']}", json={"forced_down": True}, headers=at("2.53", ALICE)
    )
    assert resp.status == 403
    body = {"host": compute["host"], "binary": "nova-compute", "forced_down": True}
    resp = await client.put("/v2.1/os-services/force-down", json=body, headers=at("2.11", ALICE))
    assert resp.status == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Auth-Token": "no-colon"},
        {"X-Auth-Token": "bad user:p"},
        {"X-Auth-Token": "a:b", "X-Project-Id": "x" * 300},
    ],
)
async def test_bad_credentials_are_401(client: Client, headers: dict[str, str]) -> None:
    resp = await client.get("/v2.1/servers", headers=headers)
    assert resp.status == 401


async def test_roles_header_makes_admin(client: Client) -> None:
    headers = {"X-User-Id": "ops", "X-Project-Id": "infra", "X-Roles": "admin,member"}
    assert (await client.get("/v2.1/os-services", headers=headers)).status == 200
    headers["X-Roles"] = "member"
    assert (await client.get("/v2.1/os-services", headers=headers)).status == 403


async def test_admin_password_never_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Sup3r-s3cret-pw"
    body = {
        "server": {
            "name": "pw",
            "imageRef": CIRROS,
            "flavorRef": "1",
            "networks": "auto",
            "adminPass": secret,
        }
    }
    resp = await client.post("/v2.1/servers", json=body, headers=at("2.60"))
    assert (await resp.json())["server"]["adminPass"] == secret
    uuid = (await resp.json())["server"]["id"]
    await client.post(
        f"/v2.1/servers/{uuid}/action",
        json={"rebuild": {"imageRef": CIRROS, "adminPass": secret}},
        headers=at("2.60"),
    )
    assert secret not in caplog.text
