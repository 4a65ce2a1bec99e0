"""Keystone mode against a real Keystone: tokens, 401s and their challenge, the cache,
revocation, outages (503, then recovery), the service user, spoofed headers."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aionova.api.app import IDENTITY
from aionova.api.keystone import ConfigError
from tests.api.conftest import CIRROS, Client, MakeClient, at
from tests.keystone import PASSWORD, SERVICE_PASSWORD, Keystone, authtoken_settings

pytestmark = pytest.mark.keystone


@pytest.fixture(scope="module")
def people(keystone: Keystone) -> dict[str, Any]:
    """Users of project ``demo`` (member, reader), of ``projB`` (bob) and the admin, with
    tokens and ids."""
    ids = {
        "member": keystone.user("demo-member", "demo", ["member"]),
        "reader": keystone.user("demo-reader", "demo", ["reader"]),
        "bob": keystone.user("bob", "projB", ["member"]),
    }
    return {
        "ids": ids,
        "demo": keystone.project_id("demo"),
        "projB": keystone.project_id("projB"),
        "member": {"X-Auth-Token": keystone.token("demo-member", PASSWORD, "demo")},
        "reader": {"X-Auth-Token": keystone.token("demo-reader", PASSWORD, "demo")},
        "bob": {"X-Auth-Token": keystone.token("bob", PASSWORD, "projB")},
        "admin": {"X-Auth-Token": keystone.admin()},
    }


async def boot(client: Client, headers: dict[str, str], name: str = "vm") -> dict[str, Any]:
    body = {"server": {"name": name, "imageRef": CIRROS, "flavorRef": "1", "networks": "auto"}}
    resp = await client.post("/v2.1/servers", json=body, headers=at("2.60", headers))
    assert resp.status == 202, await resp.text()
    uuid = (await resp.json())["server"]["id"]
    shown = await client.get(f"/v2.1/servers/{uuid}", headers=at("2.60", headers))
    assert shown.status == 200
    return dict((await shown.json())["server"])


async def wait_active(client: Client, uuid: str, headers: dict[str, str]) -> None:
    async with asyncio.timeout(20):
        while True:
            shown = await (await client.get(f"/v2.1/servers/{uuid}", headers=headers)).json()
            if (
                shown["server"]["status"] == "ACTIVE"
                and not shown["server"]["OS-EXT-STS:task_state"]
            ):
                return
            await asyncio.sleep(0.05)


async def test_context_comes_from_the_token(ks_client: Client, people: dict[str, Any]) -> None:
    server = await boot(ks_client, people["member"])
    assert server["tenant_id"] == people["demo"]
    assert server["user_id"] == people["ids"]["member"]
    assert not any(key.startswith("OS-EXT-SRV-ATTR") for key in server)
    listed = await ks_client.get("/v2.1/servers", headers=people["bob"])
    assert listed.status == 200 and (await listed.json()) == {"servers": []}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Auth-Token": "not-a-keystone-token"},
        {"X-Auth-Token": "admin:admin"},  # a noauth2 token
        {"X-Auth-Token": "notused"},  # keystoneauth's none plugin
        {"X-Auth-Token": "gAAAAA" + "x" * 180},
        {"X-Auth-Token": "tab\tinside"},
        {"X-User-Id": "admin", "X-Roles": "admin", "X-Identity-Status": "Confirmed"},
    ],
)
async def test_unusable_tokens_are_401_with_a_challenge(
    ks_client: Client, keystone: Keystone, headers: dict[str, str]
) -> None:
    resp = await ks_client.get("/v2.1/servers", headers=headers)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.root}"'
    assert (await resp.json())["unauthorized"]["code"] == 401
    # The version documents stay open (clients read them before authenticating).
    assert (await ks_client.get("/v2.1/", headers=headers)).status == 200


SPOOFED = {
    "X-Roles": "admin",
    "X-Role": "admin",
    "X-Project-Id": "admin",
    "X-Tenant-Id": "admin",
    "X-Tenant": "admin",
    "X-User-Id": "admin",
    "X-User": "admin",
    "X-Identity-Status": "Confirmed",
    "X-Service-Roles": "admin,service",
    "X-Service-Identity-Status": "Confirmed",
    "X-Is-Admin-Project": "True",
    "X-Domain-Id": "default",
    "OpenStack-System-Scope": "all",
}


async def test_spoofed_identity_headers_grant_nothing(
    ks_client: Client, people: dict[str, Any]
) -> None:
    """The issue's escalations: ``X-Roles: admin`` and ``X-Project-Id: admin``."""
    bob = {**people["bob"], **SPOOFED}
    assert (await ks_client.get("/v2.1/os-services", headers=bob)).status == 403
    assert (await ks_client.get("/v2.1/servers?all_tenants=1", headers=bob)).status == 403
    admins = await boot(ks_client, people["admin"], "admins-vm")
    assert (await ks_client.get(f"/v2.1/servers/{admins['id']}", headers=bob)).status == 404
    server = await boot(ks_client, bob, "bobs-vm")  # served as bob, not rejected
    assert server["tenant_id"] == people["projB"] and server["user_id"] == people["ids"]["bob"]
    listed = await (await ks_client.get("/v2.1/servers", headers=bob)).json()
    assert [s["id"] for s in listed["servers"]] == [server["id"]]


async def test_reader_may_look_but_not_act(ks_client: Client, people: dict[str, Any]) -> None:
    member, reader, bob = people["member"], people["reader"], people["bob"]
    server = await boot(ks_client, member, "shared")
    path = f"/v2.1/servers/{server['id']}"
    for look in ("/v2.1/servers", "/v2.1/servers/detail", path, f"{path}/os-instance-actions"):
        assert (await ks_client.get(look, headers=reader)).status == 200, look
    assert (await ks_client.get("/v2.1/flavors", headers=reader)).status == 200
    body = {"server": {"name": "r", "imageRef": CIRROS, "flavorRef": "1", "networks": "auto"}}
    refused = [
        await ks_client.post("/v2.1/servers", json=body, headers=at("2.60", reader)),
        await ks_client.put(path, json={"server": {"name": "x"}}, headers=reader),
        await ks_client.post(f"{path}/action", json={"reboot": {"type": "SOFT"}}, headers=reader),
        await ks_client.post(f"{path}/action", json={"os-stop": None}, headers=reader),
        await ks_client.post(
            f"{path}/action", json={"rebuild": {"imageRef": CIRROS}}, headers=reader
        ),
        await ks_client.delete(path, headers=reader),
    ]
    for resp in refused:
        assert resp.status == 403, (resp.method, resp.url, await resp.text())
        assert (
            "Policy doesn't allow os_compute_api:servers:"
            in (await resp.json())["forbidden"]["message"]
        )
    assert (await ks_client.get(path, headers=bob)).status == 404  # another project
    renamed = await ks_client.put(path, json={"server": {"name": "y"}}, headers=member)
    assert renamed.status == 200
    assert (await ks_client.delete(path, headers=member)).status == 204


async def test_admin_only_apis(ks_client: Client, people: dict[str, Any]) -> None:
    admin_only = [
        "/v2.1/os-services",
        "/v2.1/os-hypervisors",
        "/v2.1/os-hypervisors/detail",
        "/v2.1/os-migrations",
        "/v2.1/os-availability-zone/detail",
        "/v2.1/servers/detail?all_tenants=1",
    ]
    for path in admin_only:
        assert (await ks_client.get(path, headers=people["member"])).status == 403, path
        assert (await ks_client.get(path, headers=people["admin"])).status == 200, path
    assert (
        await ks_client.get("/v2.1/os-availability-zone", headers=people["reader"])
    ).status == 200
    server = await boot(ks_client, people["member"], "evac")
    resp = await ks_client.post(
        f"/v2.1/servers/{server['id']}/action",
        json={"evacuate": {}},
        headers=at("2.60", people["member"]),
    )
    assert resp.status == 403


@pytest.mark.parametrize("suffix", ["", "/", "/v3", "/v3/"])
async def test_auth_url_with_or_without_v3(
    keystone: Keystone, make_client: MakeClient, people: dict[str, Any], suffix: str
) -> None:
    settings = authtoken_settings(
        keystone, auth_url=keystone.root + suffix, www_authenticate_uri=keystone.root + suffix
    )
    client = await make_client(api={"auth_strategy": "keystone"}, authtoken=settings)
    assert (await client.get("/v2.1/servers", headers=people["member"])).status == 200
    refused = await client.get("/v2.1/servers")
    assert refused.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.root}{suffix}"'


async def test_service_user_with_admin_role(
    keystone: Keystone, make_client: MakeClient, people: dict[str, Any]
) -> None:
    settings = authtoken_settings(keystone, username="nova-admin")
    client = await make_client(api={"auth_strategy": "keystone"}, authtoken=settings)
    assert (await client.get("/v2.1/servers", headers=people["member"])).status == 200


async def test_wrong_service_password_is_503(
    keystone: Keystone, make_client: MakeClient, people: dict[str, Any]
) -> None:
    settings = authtoken_settings(keystone, password="wrong")
    client = await make_client(api={"auth_strategy": "keystone"}, authtoken=settings)
    resp = await client.get("/v2.1/servers", headers=people["member"])
    assert resp.status == 503 and "serviceUnavailable" in await resp.json()


async def test_revoked_token_stops_within_token_cache_time(
    keystone: Keystone, make_client: MakeClient
) -> None:
    keystone.user("demo-member", "demo", ["member"])
    cached = await make_client(
        api={"auth_strategy": "keystone"}, authtoken=authtoken_settings(keystone)
    )
    short = await make_client(
        api={"auth_strategy": "keystone"},
        authtoken=authtoken_settings(keystone, token_cache_time=1),
    )
    token = {"X-Auth-Token": keystone.token("demo-member", PASSWORD, "demo")}
    for client in (cached, short):
        assert (await client.get("/v2.1/servers", headers=token)).status == 200
    keystone.revoke(token["X-Auth-Token"])
    # Within token_cache_time the cached answer stands (that is what the cache is for) ...
    assert (await cached.get("/v2.1/servers", headers=token)).status == 200
    # ... and once it has passed, the revoked token is refused.
    revoked_at = time.monotonic()
    async with asyncio.timeout(10):
        while (await short.get("/v2.1/servers", headers=token)).status == 200:
            await asyncio.sleep(0.1)
    assert time.monotonic() - revoked_at <= 1.5
    assert (await short.get("/v2.1/servers", headers=token)).status == 401


async def test_expired_token_is_401_despite_the_cache(
    keystone: Keystone, make_client: MakeClient
) -> None:
    """A token Keystone expires is refused once it has expired, even though
    token_cache_time (300 s) has not passed: the cache never outlives the token."""
    keystone.user("demo-member", "demo", ["member"])
    client = await make_client(
        api={"auth_strategy": "keystone"}, authtoken=authtoken_settings(keystone)
    )
    raw, expires = keystone.short_lived_token("demo-member", PASSWORD, "demo", seconds=4)
    token = {"X-Auth-Token": raw}
    assert (await client.get("/v2.1/servers", headers=token)).status == 200
    async with asyncio.timeout(20):
        while (resp := await client.get("/v2.1/servers", headers=token)).status == 200:
            await asyncio.sleep(0.1)
    assert time.time() - expires <= 2.0
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.root}"'


async def test_rejected_service_token_is_renewed(
    keystone: Keystone, ks_client: Client, people: dict[str, Any]
) -> None:
    assert (await ks_client.get("/v2.1/servers", headers=people["member"])).status == 200
    client = ks_client.server.app[IDENTITY].client  # type: ignore[union-attr,attr-defined]
    first = client.service_token
    keystone.revoke(first)
    fresh_user = {"X-Auth-Token": keystone.token("demo-reader", PASSWORD, "demo")}
    assert (await ks_client.get("/v2.1/servers", headers=fresh_user)).status == 200
    assert client.service_token not in (None, first)


async def test_catalog_and_identity_in_the_context(
    keystone: Keystone, ks_client: Client, people: dict[str, Any]
) -> None:
    from aionova.cmd.keystone_register import register

    api_url = str(ks_client.make_url("")).rstrip("/")
    args = _register_args(keystone, api_url)
    await register(args)
    token = keystone.token("demo-member", PASSWORD, "demo")
    ctxt = await ks_client.server.app[IDENTITY].context(  # type: ignore[union-attr]
        {"X-Auth-Token": token, **SPOOFED}, "req-test"
    )
    assert ctxt.user_id == people["ids"]["member"] and ctxt.user_name == "demo-member"
    assert ctxt.project_id == people["demo"] and ctxt.project_name == "demo"
    assert ctxt.user_domain_id == "default" and ctxt.project_domain_id == "default"
    assert sorted(ctxt.roles) == ["member", "reader"] and ctxt.request_id == "req-test"
    assert {s["type"] for s in ctxt.service_catalog} == {"image"}  # Nova keeps no "compute"
    image = next(s for s in ctxt.service_catalog if s["type"] == "image")
    assert {"region": "RegionOne", "publicURL": f"{api_url}/image"}.items() <= image["endpoints"][
        0
    ].items()


def _register_args(keystone: Keystone, api_url: str) -> Any:
    import argparse

    from aionova.cmd.keystone_register import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    from tests.keystone import ADMIN_PASSWORD

    return parser.parse_args(
        ["--url", api_url, "--os-auth-url", keystone.url, "--os-password", ADMIN_PASSWORD]
    )


async def test_passwords_stay_out_of_logs_and_views(
    ks_client: Client, people: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Adm1n-pass-w0rd"
    member = at("2.60", people["member"])
    body = {
        "server": {
            "name": "pw",
            "imageRef": CIRROS,
            "flavorRef": "1",
            "networks": "auto",
            "adminPass": secret,
        }
    }
    created = await ks_client.post("/v2.1/servers", json=body, headers=member)
    assert (await created.json())["server"]["adminPass"] == secret  # only the create answer
    uuid = (await created.json())["server"]["id"]
    await wait_active(ks_client, uuid, member)
    rebuilt = await ks_client.post(
        f"/v2.1/servers/{uuid}/action",
        json={"rebuild": {"imageRef": CIRROS, "adminPass": secret}},
        headers=member,
    )
    assert rebuilt.status == 202
    for path in (
        f"/v2.1/servers/{uuid}",
        "/v2.1/servers/detail",
        f"/v2.1/servers/{uuid}/os-instance-actions",
    ):
        assert secret not in await (await ks_client.get(path, headers=member)).text()
    assert secret not in caplog.text and SERVICE_PASSWORD not in caplog.text
    assert people["member"]["X-Auth-Token"] not in caplog.text


async def test_keystone_settings_are_checked_at_startup(make_client: MakeClient) -> None:
    with pytest.raises(ConfigError, match="auth_url"):
        await make_client(api={"auth_strategy": "keystone"}, authtoken={"username": "nova"})
    with pytest.raises(ConfigError, match="auth_type"):
        settings = {
            "auth_url": "http://127.0.0.1:1",
            "username": "u",
            "password": "p",
            "project_name": "service",
            "auth_type": "token",
        }
        await make_client(api={"auth_strategy": "keystone"}, authtoken=settings)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    token=st.one_of(
        st.text(
            alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_categories=("Cc",)),
            max_size=300,
        ),
        st.sampled_from(["notused", "admin:admin", "gAAAAA", "a" * 5000, "Bearer x", "' OR 1=1"]),
    ),
    spoofed=st.dictionaries(st.sampled_from(sorted(SPOOFED)), st.sampled_from(["admin", "x"])),
    path=st.sampled_from(
        ["/v2.1/servers", "/v2.1/os-services", "/v2.1/flavors", "/image/v2/images"]
    ),
)
async def test_fuzzed_tokens_never_5xx(
    ks_client: Client, token: str, spoofed: dict[str, str], path: str
) -> None:
    resp = await ks_client.get(path, headers={"X-Auth-Token": token, **spoofed})
    assert resp.status == 401, (resp.status, await resp.text())
    assert resp.headers["WWW-Authenticate"].startswith('Keystone uri="')


async def test_project_manager_lists_own_migrations_without_hosts(
    keystone: Keystone, ks_client: Client, people: dict[str, Any]
) -> None:
    keystone.user("demo-manager", "demo", ["manager"])
    manager = {"X-Auth-Token": keystone.token("demo-manager", PASSWORD, "demo")}
    admin = at("2.60", people["admin"])
    server = await boot(ks_client, people["member"], "moved")
    await wait_active(ks_client, server["id"], people["member"])
    source = (await (await ks_client.get(f"/v2.1/servers/{server['id']}", headers=admin)).json())[
        "server"
    ]["OS-EXT-SRV-ATTR:host"]
    services = (await (await ks_client.get("/v2.1/os-services", headers=admin)).json())["services"]
    uuid = next(s["id"] for s in services if s["host"] == source)
    down = await ks_client.put(
        f"/v2.1/os-services/{uuid}", json={"forced_down": True}, headers=admin
    )
    assert down.status == 200
    evac = await ks_client.post(
        f"/v2.1/servers/{server['id']}/action", json={"evacuate": {}}, headers=admin
    )
    assert evac.status == 200, await evac.text()
    query = f"/v2.1/os-migrations?project_id={people['demo']}"
    own = await ks_client.get(query, headers=manager)
    assert own.status == 200, await own.text()
    mine = [m for m in (await own.json())["migrations"] if m["instance_uuid"] == server["id"]]
    assert len(mine) == 1 and mine[0]["source_compute"] is None and mine[0]["dest_compute"] is None
    full = await (await ks_client.get(query, headers=admin)).json()
    assert [
        m["source_compute"] for m in full["migrations"] if m["instance_uuid"] == server["id"]
    ] == [source]
    for query in ("", f"?project_id={people['projB']}"):
        resp = await ks_client.get(f"/v2.1/os-migrations{query}", headers=manager)
        assert resp.status == 403
        assert "index:all_projects" in (await resp.json())["forbidden"]["message"]
    member = await ks_client.get(
        f"/v2.1/os-migrations?project_id={people['demo']}", headers=people["member"]
    )
    assert member.status == 403
