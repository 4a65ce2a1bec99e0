"""What Keystone mode adds to a request, on ``GET /v2.1/flavors``: noauth2; keystone with
a cached token; keystone uncached (``token_cache_time = 0``: one validation per request,
of a token Keystone has seen); keystone with a new token per request (its first use).

    bash scripts/keystone.sh start
    .venv/bin/python -m bench.keystone_latency [--requests 200]

The API runs in-process (aiohttp, a seeded all-in-one on memory://); Keystone is the
real one of ``scripts/keystone.sh``. Prints median and p95 per mode, and the added
latency against noauth2.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from aiohttp.test_utils import TestClient, TestServer

from aionova.api import create_app
from aionova.cmd.seed import seed
from aionova.config import ApiOpts, Config, KeystoneAuthtokenOpts
from aionova.deployment import AllInOne
from tests.keystone import PASSWORD, SERVICE_PASSWORD, Keystone


def _config(base: Config, strategy: str, ks: Keystone, cache_time: int) -> Config:
    authtoken = KeystoneAuthtokenOpts(
        auth_url=ks.root,
        username="nova",
        password=SERVICE_PASSWORD,
        project_name="service",
        token_cache_time=cache_time,
    )
    return msgspec.structs.replace(
        base,
        api=ApiOpts(auth_strategy=strategy),
        keystone_authtoken=authtoken,  # type: ignore[arg-type]
    )


async def _measure(client: TestClient[Any, Any], headers: dict[str, str], n: int) -> list[float]:
    for _ in range(5):  # warm up: connections, the service token, the first validation
        assert (await client.get("/v2.1/flavors", headers=headers)).status == 200
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        resp = await client.get("/v2.1/flavors", headers=headers)
        await resp.read()
        samples.append(time.perf_counter() - started)
        assert resp.status == 200
    return samples


async def _first_uses(client: TestClient[Any, Any], tokens: list[str]) -> list[float]:
    samples = []
    for token in tokens:
        started = time.perf_counter()
        resp = await client.get("/v2.1/flavors", headers={"X-Auth-Token": token})
        await resp.read()
        samples.append(time.perf_counter() - started)
        assert resp.status == 200
    return samples


async def main(requests: int) -> None:
    ks = Keystone()
    ks.user("nova", "service", ["service"], SERVICE_PASSWORD)
    ks.user("bench-member", "demo", ["member"])
    token = {"X-Auth-Token": ks.token("bench-member", PASSWORD, "demo")}
    with tempfile.TemporaryDirectory() as tmp:
        cloud = AllInOne(Config(), Path(tmp) / "bench.sqlite")
        await cloud.start()
        try:
            await seed(cloud.db)
            assert cloud.api is not None
            modes = [
                ("noauth2", "noauth2", 300, {"X-Auth-Token": "notused"}),
                ("keystone, cached token", "keystone", 300, token),
                ("keystone, uncached token", "keystone", 0, token),
            ]
            results: dict[str, list[float]] = {}
            for label, strategy, cache_time, headers in modes:
                app = create_app(
                    cloud.api, cloud.db, config=_config(cloud.config, strategy, ks, cache_time)
                )
                async with TestClient(TestServer(app)) as client:
                    results[label] = await _measure(client, headers, requests)
                    if strategy == "keystone" and cache_time == 0:
                        fresh = [ks.token("bench-member", PASSWORD, "demo") for _ in range(30)]
                        results["keystone, new token"] = await _first_uses(client, fresh)
        finally:
            await cloud.stop()
    base = statistics.median(results["noauth2"])
    for label, samples in results.items():
        median = statistics.median(samples)
        p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
        print(
            f"{label:26s} median {median * 1e3:7.2f} ms  p95 {p95 * 1e3:7.2f} ms  "
            f"added {(median - base) * 1e3:+7.2f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    asyncio.run(main(parser.parse_args().requests))
