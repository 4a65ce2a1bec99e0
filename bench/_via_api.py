"""``boot_storm --via-api``: boots through the REST API with an aiohttp client.

The API is served in the bench process on a free loopback port (as Nova's
functional harness serves its WSGI app in-process); the client keeps
``concurrency`` boots in flight and measures POST → ACTIVE per server.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from aionova.api import create_app
from aionova.config import ApiOpts
from aionova.deployment import AllInOne
from aionova.objects import ObjectStore

HEADERS = {"X-Auth-Token": "bench:bench", "OpenStack-API-Version": "compute 2.60"}
HTTP_CONNECTIONS = 32


async def _serve(cloud: AllInOne) -> tuple[web.AppRunner, str]:
    assert cloud.api is not None
    runner = web.AppRunner(create_app(cloud.api, cloud.db, ApiOpts()), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v2.1"


async def _settled(db: ObjectStore) -> dict[str, str]:
    """uuid → state of the instances that are ACTIVE or ERROR with no task."""
    states = await db.instance_states(None)
    return {
        uuid: vm
        for uuid, (vm, task) in states.items()
        if task is None and vm in ("active", "error")
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive_via_api(
    cloud: AllInOne, flavor: str, image: str, instances: int, concurrency: int, started: float
) -> dict[str, Any]:
    """Keep ``concurrency`` boots in flight over HTTP; returns counts and latencies."""
    runner, url = await _serve(cloud)
    try:
        result = await drive_http(
            [url], lambda: _settled(cloud.db), flavor, image, instances, concurrency, started
        )
    finally:
        await runner.cleanup()
    result.pop("unsettled_ids")
    return result


Settled = Callable[[], Awaitable[dict[str, str]]]


async def drive_http(
    urls: list[str],
    settled: Settled,
    flavor: str,
    image: str,
    instances: int,
    concurrency: int,
    started: float,
    settle_timeout: float | None = None,
) -> dict[str, Any]:
    """POST /servers to ``urls`` in turn, ``concurrency`` boots in flight, until every
    accepted server is ACTIVE or ERROR (``settled()``: uuid → state of the settled ones)
    or ``settle_timeout`` passed; the rest are counted ``stuck``."""
    posted: dict[str, float] = {}
    latencies: list[float] = []
    seen: dict[str, str] = {}
    body = {"server": {"name": "storm", "imageRef": image, "flavorRef": flavor, "networks": "none"}}
    http_errors = 0
    deadline = None if settle_timeout is None else time.perf_counter() + settle_timeout
    connector = aiohttp.TCPConnector(limit=HTTP_CONNECTIONS * len(urls))
    async with aiohttp.ClientSession(connector=connector, headers=HEADERS) as session:

        async def post(url: str) -> None:
            nonlocal http_errors
            t0 = time.perf_counter()
            async with session.post(f"{url}/servers", json=body) as resp:
                if resp.status != 202:
                    http_errors += 1
                    return
                posted[(await resp.json())["server"]["id"]] = t0

        created, tasks = 0, set()
        while len(seen) + http_errors < instances:
            while created < instances and created - len(seen) - http_errors < concurrency:
                task = asyncio.create_task(post(urls[created % len(urls)]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                created += 1
            await asyncio.sleep(0.05)
            now = time.perf_counter()
            for uuid, state in (await settled()).items():
                if uuid not in seen and uuid in posted:
                    seen[uuid] = state
                    latencies.append(now - posted[uuid])
            done = len(seen)
            sys.stderr.write(f"\r{done}/{instances} {done / max(now - started, 1e-9):.0f}/s")
            if deadline is not None and now > deadline and created >= instances:
                break
        await asyncio.gather(*tasks)
        sys.stderr.write("\n")
    states = list(seen.values())
    return {
        "active": states.count("active"),
        "error": states.count("error") + http_errors,
        "http_errors": http_errors,
        "stuck": len(set(posted) - set(seen)),
        "unsettled_ids": sorted(set(posted) - set(seen)),
        "launch_p50_ms": round(1000 * _pct(latencies, 0.50), 1),
        "launch_p99_ms": round(1000 * _pct(latencies, 0.99), 1),
        "launch_mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else 0.0,
    }
