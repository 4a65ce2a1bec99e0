"""Property test over request bodies, paths and headers: the API never answers 5xx, and
keeps answering (every served route, microversion headers, invalid UTF-8, deep nesting,
20 MB bodies)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import msgspec
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from tests.api.conftest import ADMIN, CIRROS, boot

Client = TestClient[Any, Any]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["auto", "none", "SOFT", "HARD", "compute1", CIRROS, "1", "enabled", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "imageRef",
                    "flavorRef",
                    "networks",
                    "type",
                    "host",
                    "force",
                    "onSharedStorage",
                    "adminPass",
                    "forced_down",
                    "status",
                    "binary",
                    "disabled_reason",
                    "metadata",
                    "min_count",
                    "max_count",
                    "description",
                    "accessIPv4",
                    "accessIPv6",
                    "OS-DCF:diskConfig",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=12,
)
actions = st.dictionaries(
    st.sampled_from(["reboot", "rebuild", "evacuate", "os-stop", "os-start", "lock", "x"]),
    json_values,
    max_size=2,
)
versions = st.sampled_from(["2.1", "2.11", "2.14", "2.29", "2.37", "2.53", "2.60", "latest", "9"])
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _headers(version: str) -> dict[str, str]:
    return {**ADMIN, "OpenStack-API-Version": f"compute {version}"}


async def _ok(resp: Any) -> None:
    assert resp.status < 500, (resp.status, await resp.text())


@FUZZ
@given(body=st.one_of(json_values, st.fixed_dictionaries({"server": json_values})), v=versions)
async def test_create_never_500(client: Client, body: Any, v: str) -> None:
    await _ok(await client.post("/v2.1/servers", json=body, headers=_headers(v)))


@FUZZ
@given(body=st.one_of(actions, json_values), v=versions)
async def test_actions_never_500(client: Client, body: Any, v: str) -> None:
    uuid = getattr(client, "_fuzz_server", None)
    if uuid is None:
        uuid = await boot(client, "fuzz", ADMIN)
        client._fuzz_server = uuid  # type: ignore[attr-defined]
    await _ok(await client.post(f"/v2.1/servers/{uuid}/action", json=body, headers=_headers(v)))


@FUZZ
@given(body=st.one_of(json_values, st.fixed_dictionaries({"server": json_values})), v=versions)
async def test_update_never_500(client: Client, body: Any, v: str) -> None:
    uuid = getattr(client, "_fuzz_server", None)
    if uuid is None:
        uuid = await boot(client, "fuzz", ADMIN)
        client._fuzz_server = uuid  # type: ignore[attr-defined]
    await _ok(await client.put(f"/v2.1/servers/{uuid}", json=body, headers=_headers(v)))


@FUZZ
@given(
    ident=st.one_of(
        st.sampled_from(["force-down", "enable", "disable"]),
        st.uuids().map(str),
        st.text(alphabet="abc-123", min_size=1, max_size=12),
    ),
    body=json_values,
    v=versions,
)
async def test_services_never_500(client: Client, ident: str, body: Any, v: str) -> None:
    await _ok(await client.put(f"/v2.1/os-services/{ident}", json=body, headers=_headers(v)))


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/servers",
            "/servers/detail",
            "/flavors",
            "/flavors/detail",
            "/os-migrations",
            "/os-hypervisors",
            "/os-hypervisors/detail",
            "/v2/images",
            "/os-services",
            "/os-availability-zone",
            "/os-availability-zone/detail",
        ]
    ),
    key=st.sampled_from(
        [
            "limit",
            "marker",
            "name",
            "status",
            "host",
            "all_tenants",
            "is_public",
            "minRam",
            "with_servers",
            "hypervisor_hostname_pattern",
            "id",
        ]
    ),
    value=st.text(max_size=12),
    v=versions,
)
async def test_queries_never_500(client: Client, path: str, key: str, value: str, v: str) -> None:
    resp = await client.get(f"/v2.1{path}", params={key: value}, headers=_headers(v))
    await _ok(resp)


async def test_raw_bodies_never_500(client: Client) -> None:
    for raw in (b"", b"null", b"[]", b"\xff\xfe", b'{"server": null}', b"1e999", b'"x"'):
        await _ok(await client.post("/v2.1/servers", data=raw, headers=ADMIN))
        await _ok(await client.post("/v2.1/servers/x/action", data=raw, headers=ADMIN))
        await _ok(await client.put(f"/v2.1/servers/{CIRROS}", data=raw, headers=ADMIN))


# ---- every served route: paths, queries, microversion headers, bodies ---------------

segments = st.one_of(
    st.sampled_from(["detail", "x", "force-down", "search", "servers", "%ff", "%00", "..", CIRROS]),
    st.uuids().map(str),
    st.text(alphabet="abc-123%.~_", min_size=1, max_size=12),
)
raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"\xff\xfe\xfd",
            b'{"server": {"name": "\xc3\x28"}}',
            b"[" * 5000,
            b"[" * 2000 + b"]" * 2000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b'{"reboot": {"type": "' + b"\\u0000" * 10 + b'"}}',
            b"1e999999",
            b'"' + b"\\" * 1001,
        ]
    ),
    json_values.map(lambda v: msgspec.json.encode(v)),
)
header_values = st.one_of(
    st.sampled_from(["compute 2.1", "compute latest", "compute 2.999", "compute 3.0", "2.60", ""]),
    st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_categories=("Cc",)),
        max_size=30,
    ),
)


def _served_routes(client: Client) -> list[tuple[str, str]]:
    routes = []
    for route in client.server.app.router.routes():  # type: ignore[union-attr]
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "HEAD":
            routes.append((route.method, path))
    return sorted(set(routes))


def _fill(template: str, values: list[str]) -> str:
    out, parts = [], template.split("/")
    for part in parts:
        if part.startswith("{"):
            out.append(values.pop() if values else "x")
        else:
            out.append(part)
    return "/".join(out)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    values=st.lists(segments, min_size=3, max_size=3),
    query=st.dictionaries(
        st.sampled_from(["name", "limit", "marker", "all_tenants", "host", "status", "x"]),
        st.text(max_size=10),
        max_size=3,
    ),
    version=header_values,
    legacy=header_values,
    body=raw_bodies,
)
async def test_every_route_never_500(
    client: Client,
    data: st.DataObject,
    values: list[str],
    query: dict[str, str],
    version: str,
    legacy: str,
    body: bytes,
) -> None:
    method, template = data.draw(st.sampled_from(_served_routes(client)))
    path = _fill(template, list(values))
    url = URL(f"{path}?{urlencode(query)}" if query else path, encoded=True)
    headers = {
        **ADMIN,
        "OpenStack-API-Version": version,
        "X-OpenStack-Nova-API-Version": legacy,
        "Content-Type": "application/json",
    }
    resp = await client.request(method, url, data=body, headers=headers)
    await _ok(resp)
    alive = await client.get("/v2.1/", headers=ADMIN)  # still answering
    assert alive.status == 200


async def test_twenty_megabytes_on_every_route(client: Client) -> None:
    big = b'{"server": {"name": "' + b"x" * (20 << 20) + b'"}}'
    for method, template in _served_routes(client):
        path = _fill(template, [CIRROS, "detail", CIRROS])
        resp = await client.request(method, path, data=big, headers=ADMIN)
        await _ok(resp)
        if method in ("POST", "PUT"):
            assert resp.status in (413, 404, 405), (method, path, resp.status)
    assert (await client.get("/v2.1/flavors", headers=ADMIN)).status == 200


async def test_invalid_utf8_in_paths_and_queries(client: Client) -> None:
    for raw in (
        "/v2.1/servers/%ff%fe",
        "/v2.1/servers?name=%ff",
        "/v2.1/servers?name=%00",
        "/v2.1/flavors/%c3%28",
        "/v2.1/os-hypervisors/%ff/search",
        "/v2.1/servers/detail?name=%ed%a0%80",
        "/image/v2/images?name=%ff",
    ):
        await _ok(await client.get(URL(raw, encoded=True), headers=ADMIN))
