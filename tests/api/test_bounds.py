"""Bad input cannot knock the API over: deep JSON, huge bodies, control characters,
catastrophic regular expressions (the two knock-over inputs of the issue among them)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from aionova.api.schemas import MAX_JSON_DEPTH, json_depth_exceeds
from tests.api.conftest import ADMIN, ALICE, CIRROS, Client, at, boot

DEEP = b"[" * 1000 + b"]" * 1000
DEEPER = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


async def _service_uuid(client: Client) -> str:
    services = await (await client.get("/v2.1/os-services", headers=at("2.53"))).json()
    return str(next(s["id"] for s in services["services"] if s["binary"] == "nova-compute"))


@pytest.mark.parametrize("raw", [DEEP, DEEPER, b'{"server": ' + DEEP + b"}"])
async def test_deep_json_is_a_400_everywhere(client: Client, raw: bytes) -> None:
    server = await boot(client, "deep", ADMIN)
    service = await _service_uuid(client)
    calls = [
        ("POST", "/v2.1/servers", "2.60"),
        ("POST", f"/v2.1/servers/{server}/action", "2.60"),
        ("PUT", f"/v2.1/servers/{server}", "2.60"),
        ("PUT", f"/v2.1/os-services/{service}", "2.53"),
        ("PUT", "/v2.1/os-services/force-down", "2.11"),
        ("PUT", "/v2.1/os-services/disable", "2.1"),
        ("POST", "/v2.1/flavors", "2.55"),
    ]
    for method, path, version in calls:
        resp = await client.request(method, path, data=raw, headers=at(version))
        assert resp.status == 400, (method, path, resp.status, await resp.text())
        assert (await resp.json())["badRequest"]["code"] == 400


def test_depth_bound_is_exact() -> None:
    fits = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert not json_depth_exceeds(fits)
    assert json_depth_exceeds(b"[" + fits + b"]")
    # Brackets inside strings do not count; a long flat body is not deep.
    assert not json_depth_exceeds(b'{"name": "' + b"[" * 5000 + b'"}')
    assert not json_depth_exceeds(b"[" + b"[1]," * 100_000 + b"[1]]")
    assert json_depth_exceeds(b'[{"a": ' * 17 + b"1" + b"}]" * 17)


async def test_big_body_is_a_413(client: Client) -> None:
    big = b'{"server": {"name": "' + b"x" * (20 << 20) + b'"}}'
    for method, path in (("POST", "/v2.1/servers"), ("PUT", f"/v2.1/servers/{CIRROS}")):
        resp = await client.request(method, path, data=big, headers=ADMIN)
        assert resp.status == 413, (path, resp.status)
        assert (await resp.json())["overLimit"]["code"] == 413
    assert (await client.get("/v2.1/flavors", headers=ADMIN)).status == 200


@pytest.mark.parametrize("name", ["nul\x00name", "bell\x07", "tab\tname", "line\nbreak", "\x7f"])
async def test_names_with_control_characters_are_400(client: Client, name: str) -> None:
    body = {"server": {"name": name, "imageRef": CIRROS, "flavorRef": "1", "networks": "auto"}}
    resp = await client.post("/v2.1/servers", json=body, headers=at("2.60"))
    assert resp.status == 400, await resp.text()
    server = await boot(client, "ok-name", ADMIN)
    resp = await client.put(
        f"/v2.1/servers/{server}", json={"server": {"name": name}}, headers=ADMIN
    )
    assert resp.status == 400
    rebuild = {"rebuild": {"imageRef": CIRROS, "name": name}}
    resp = await client.post(f"/v2.1/servers/{server}/action", json=rebuild, headers=ADMIN)
    assert resp.status == 400, await resp.text()


@pytest.mark.parametrize("raw", [b"\xff\xfe\xfd", b'{"server": {"name": "\xc3\x28"}}', b"\x00"])
async def test_invalid_utf8_is_400(client: Client, raw: bytes) -> None:
    resp = await client.post("/v2.1/servers", data=raw, headers=ADMIN)
    assert resp.status == 400


async def test_catastrophic_name_filter_answers_fast(client: Client) -> None:
    """``(a+)+$`` against a server named 26 a's and a ``!``: ~10 s with Python's re,
    doubling per letter, during which nothing else ran. The loop must stay responsive."""
    await boot(client, "a" * 26 + "!", ALICE)
    await boot(client, "aaaa", ALICE)
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.005)
            worst = max(worst, time.monotonic() - before - 0.005)

    tick = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        for pattern in ("(a+)+$", "(a|a)+$", "(a*)*b", "^(a+)+$"):
            resp = await client.get("/v2.1/servers", params={"name": pattern}, headers=ALICE)
            assert resp.status == 200
            names = [s["name"] for s in (await resp.json())["servers"]]
            if pattern.endswith("$"):
                assert names == ["aaaa"], (pattern, names)
        took = time.monotonic() - started
    finally:
        tick.cancel()
    assert took < 2.0, took
    assert worst < 0.25, f"event loop stalled {worst:.3f} s"


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)", "(?<=a)b", "[", "a{1001}", "x" * 2000])
async def test_unsupported_or_invalid_patterns_are_400(client: Client, pattern: str) -> None:
    resp = await client.get("/v2.1/servers/detail", params={"name": pattern}, headers=ALICE)
    assert resp.status == 400
    body: dict[str, Any] = await resp.json()
    assert "name filter" in body["badRequest"]["message"]
