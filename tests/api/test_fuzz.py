"""Property test over request bodies, paths and headers: the API never answers 5xx."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
