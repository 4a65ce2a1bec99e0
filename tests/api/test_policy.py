"""Policy: projects are isolated, admin-only operations refuse others, spoofed headers
grant nothing (noauth2); Nova's defaults per persona; policy-file overrides; noauth2
refused on public addresses."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from aionova.api.auth import UnsafeConfig
from aionova.api.policy import API_RULES, Policy, PolicyFileError
from aionova.context import RequestContext
from tests.api.conftest import ADMIN, ALICE, BOB, CIRROS, MakeClient, at, boot

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
    # As Nova: a filter a non-admin may not use is dropped, not refused nor applied.
    listed = await client.get("/v2.1/servers?host=nowhere", headers=ALICE)
    assert listed.status == 200
    assert [s["id"] for s in (await listed.json())["servers"]] == [mine]
    admin = await client.get("/v2.1/servers?all_tenants=1&host=nowhere", headers=ADMIN)
    assert (await admin.json()) == {"servers": []}


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


@pytest.mark.parametrize("headers", [{"X-Auth-Token": "no-colon"}, {"X-Auth-Token": "bad user:p"}])
async def test_bad_credentials_are_401(client: Client, headers: dict[str, str]) -> None:
    resp = await client.get("/v2.1/servers", headers=headers)
    assert resp.status == 401 and (await resp.json())["unauthorized"]["code"] == 401


SPOOFED = {
    "X-Roles": "admin",
    "X-Project-Id": "admin",
    "X-Tenant-Id": "admin",
    "X-User-Id": "admin",
    "X-Identity-Status": "Confirmed",
    "X-Service-Roles": "admin",
    "X-Is-Admin-Project": "True",
}


async def test_spoofed_headers_grant_nothing(client: Client) -> None:
    """The issue's escalations, as bob of projB under noauth2: ``X-Roles: admin`` used to
    open os-services, ``X-Project-Id: admin`` to list and create in project admin."""
    admins = await boot(client, "admins-vm", ADMIN)
    assert (
        await client.get("/v2.1/os-services", headers={**BOB, "X-Roles": "admin"})
    ).status == 403
    bob = {**BOB, **SPOOFED}
    assert (await client.get("/v2.1/os-services", headers=bob)).status == 403
    assert (await client.get(f"/v2.1/servers/{admins}", headers=bob)).status == 404
    mine = await boot(client, "bobs-vm", bob)  # served as bob:other, not rejected
    listed = await (await client.get("/v2.1/servers/detail", headers=bob)).json()
    assert [(s["id"], s["tenant_id"], s["user_id"]) for s in listed["servers"]] == [
        (mine, "other", "bob")
    ]
    long_header = {**BOB, "X-Project-Id": "x" * 300}  # ignored, not validated
    assert (await client.get("/v2.1/servers", headers=long_header)).status == 200


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


# ---- the policy engine: Nova's defaults per persona, and a policy file --------------

ADMIN_CTX = RequestContext(user_id="a", project_id="admin", roles=["admin", "member", "reader"])
MEMBER = RequestContext(user_id="m", project_id="demo", roles=["member", "reader"])
READER = RequestContext(user_id="r", project_id="demo", roles=["reader"])
MANAGER = RequestContext(user_id="g", project_id="demo", roles=["manager", "member", "reader"])
NOBODY = RequestContext(user_id="n", project_id="demo", roles=[])
DEMO = {"project_id": "demo", "user_id": "m"}
ELSEWHERE = {"project_id": "other", "user_id": "x"}

# The rules, and what Nova's current defaults give each persona on a resource of
# project demo: (admin, member, reader, manager, no role); member of another project: False.
EXPECTED = {
    "os_compute_api:servers:index": (True, True, True, True, False),
    "os_compute_api:servers:detail": (True, True, True, True, False),
    "os_compute_api:servers:show": (True, True, True, True, False),
    "os_compute_api:servers:create": (True, True, False, True, False),
    "os_compute_api:servers:update": (True, True, False, True, False),
    "os_compute_api:servers:delete": (True, True, False, True, False),
    "os_compute_api:servers:reboot": (True, True, False, True, False),
    "os_compute_api:servers:rebuild": (True, True, False, True, False),
    "os_compute_api:servers:start": (True, True, False, True, False),
    "os_compute_api:servers:stop": (True, True, False, True, False),
    "os_compute_api:servers:index:get_all_tenants": (True, False, False, False, False),
    "os_compute_api:servers:detail:get_all_tenants": (True, False, False, False, False),
    "os_compute_api:os-evacuate": (True, False, False, False, False),
    "os_compute_api:os-services:list": (True, False, False, False, False),
    "os_compute_api:os-services:update": (True, False, False, False, False),
    "os_compute_api:os-hypervisors:list": (True, False, False, False, False),
    "os_compute_api:os-hypervisors:show": (True, False, False, False, False),
    "os_compute_api:os-migrations:index": (True, False, False, True, False),
    "os_compute_api:os-migrations:index:all_projects": (True, False, False, False, False),
    "os_compute_api:os-instance-actions:list": (True, True, True, True, False),
    "os_compute_api:os-instance-actions:show": (True, True, True, True, False),
    "os_compute_api:os-availability-zone:list": (True, True, True, True, True),
    "os_compute_api:os-availability-zone:detail": (True, False, False, False, False),
    "os_compute_api:os-extended-server-attributes": (True, False, False, False, False),
}


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_nova_defaults_per_persona(rule: str) -> None:
    policy = Policy()
    got = tuple(policy.allowed(c, rule, DEMO) for c in (ADMIN_CTX, MEMBER, READER, MANAGER, NOBODY))
    assert got == EXPECTED[rule]
    open_to_all = EXPECTED[rule][-1]
    assert policy.allowed(MEMBER, rule, ELSEWHERE) is open_to_all
    assert policy.allowed(ADMIN_CTX, rule, ELSEWHERE)


def test_every_served_rule_has_a_default() -> None:
    assert set(EXPECTED) <= set(API_RULES)
    policy = Policy()
    for rule in API_RULES:
        assert policy.allowed(ADMIN_CTX, rule, DEMO), rule
    assert not policy.allowed(ADMIN_CTX, "os_compute_api:no-such-rule", DEMO)  # fail closed


def test_domain_scoped_tokens_get_no_project_api() -> None:
    domain_admin = RequestContext(user_id="d", domain_id="default", roles=["admin"])
    assert not Policy().allowed(domain_admin, "os_compute_api:os-services:list")


YAML_POLICY = """
# Nova's rule syntax, YAML
"os_compute_api:os-services:list": "role:member"
"os_compute_api:servers:create": "!"
"""
JSON_POLICY = json.dumps(
    {
        "os_compute_api:os-availability-zone:list": "role:admin",
        "context_is_admin": "role:admin or user_id:alice",
    }
)


async def test_policy_file_yaml_overrides(make_client: MakeClient, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(YAML_POLICY)
    client = await make_client(policy_file=str(path))
    assert (await client.get("/v2.1/os-services", headers=ALICE)).status == 200
    body = {"server": {"name": "x", "imageRef": CIRROS, "flavorRef": "1", "networks": "auto"}}
    refused = await client.post("/v2.1/servers", json=body, headers=at("2.60"))
    assert refused.status == 403
    assert "os_compute_api:servers:create" in (await refused.json())["forbidden"]["message"]
    # Rules the file does not name keep Nova's defaults.
    assert (await client.get("/v2.1/os-hypervisors", headers=ALICE)).status == 403


async def test_policy_file_view_and_sub_rules(make_client: MakeClient, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        '"os_compute_api:os-extended-server-attributes": "rule:project_reader_or_admin"\n'
        '"os_compute_api:servers:create:attach_network": "rule:context_is_admin"\n'
    )
    client = await make_client(policy_file=str(path))
    mine = await boot(client, "alice-vm", ALICE)  # alice sees her servers' host fields
    view = await (await client.get(f"/v2.1/servers/{mine}", headers=ALICE)).json()
    assert "OS-EXT-SRV-ATTR:host" in view["server"]
    body = {"server": {"name": "n", "imageRef": CIRROS, "flavorRef": "1", "networks": [{}]}}
    refused = await client.post("/v2.1/servers", json=body, headers=at("2.60", ALICE))
    assert refused.status == 403
    assert "create:attach_network" in (await refused.json())["forbidden"]["message"]


async def test_policy_file_json_overrides(make_client: MakeClient, tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(JSON_POLICY)
    client = await make_client(policy_file=str(path))
    assert (await client.get("/v2.1/os-availability-zone", headers=BOB)).status == 403
    # context_is_admin decides is_admin, as in Nova: alice now sees every project.
    assert (await client.get("/v2.1/servers?all_tenants=1", headers=ALICE)).status == 200
    assert (await client.get("/v2.1/servers?all_tenants=1", headers=BOB)).status == 403


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "cannot read"),
        ('"os_compute_api:servers:index": "http://127.0.0.1:1/check"', "not allowed"),
        ("- just\n- a list\n", "expected"),
        ("{not: [valid", "not YAML/JSON"),
    ],
)
async def test_bad_policy_file_stops_startup(
    make_client: MakeClient, tmp_path: Path, content: str | None, error: str
) -> None:
    path = tmp_path / "policy.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PolicyFileError, match=error):
        await make_client(policy_file=str(path))


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
async def test_noauth_refuses_a_public_address(make_client: MakeClient, listen: str) -> None:
    with pytest.raises(UnsafeConfig, match="noauth_allow_public"):
        await make_client(api={"listen": listen})


async def test_noauth_public_when_allowed_warns(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(api={"listen": "0.0.0.0", "noauth_allow_public": True})
    assert (await client.get("/v2.1/servers", headers=ALICE)).status == 200
    assert "noauth_allow_public" in caplog.text and "WARNING" in caplog.text


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
async def test_noauth_on_loopback_is_fine(make_client: MakeClient, listen: str) -> None:
    client = await make_client(api={"listen": listen})
    assert (await client.get("/v2.1/servers", headers=ALICE)).status == 200
