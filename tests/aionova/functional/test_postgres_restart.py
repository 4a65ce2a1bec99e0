"""PostgreSQL restarted under load (issue 14): a burst of boots through the REST API while
the server is stopped and started. Every request answers, 202 or 503 (fail fast, never
a hang or a 500); the services retry their saves and resume by themselves; every server
ends ACTIVE or ERROR and no host is over its limits. Always on PostgreSQL (the server of
scripts/postgres.sh, which this test stops and starts)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import msgspec
from aiohttp.test_utils import TestClient, TestServer

from aionova.api import create_app
from aionova.config import ConductorOpts, DatabaseOpts
from aionova.deployment import AllInOne
from aionova.states import vm_states
from aionova.virt.fake import FakeDriver, Latency
from tests.aionova.conftest import IMAGE, fast_config, seed, wait_settled
from tests.conftest import postgres_script, schemas

ADMIN = {"X-Auth-Token": "notused", "OpenStack-API-Version": "compute 2.60"}
HOSTS, MEMORY = 3, 4096  # 512 MB reserved, ratio 1.5: 11 m1.tiny per host
BOOTS = 40


def _config() -> Any:
    config = fast_config(rpc_response_timeout=30.0, max_concurrent_builds=20)
    return msgspec.structs.replace(
        config,
        conductor=ConductorOpts(build_recovery_timeout=5.0, recovery_interval=1.0),
        database=DatabaseOpts(db_max_retries=60, db_retry_interval=0.1, db_max_retry_interval=1.0),
    )


async def _boot(client: TestClient[Any, Any], index: int) -> tuple[int, str | None, float]:
    body = {"server": {"name": f"r{index}", "imageRef": IMAGE.id, "flavorRef": "1",
                       "networks": "none"}}  # fmt: skip
    started = time.monotonic()
    async with asyncio.timeout(20):  # a hang fails the test
        resp = await client.post("/v2.1/servers", json=body, headers=ADMIN)
        data = await resp.json()
    ident = data["server"]["id"] if resp.status == 202 else None
    return resp.status, ident, time.monotonic() - started


async def _burst(client: TestClient[Any, Any]) -> list[tuple[int, str | None, float]]:
    tasks = []
    for index in range(BOOTS):
        tasks.append(asyncio.create_task(_boot(client, index)))
        await asyncio.sleep(0.1)
    return await asyncio.gather(*tasks)


async def _restart_postgres() -> None:
    await asyncio.sleep(0.8)
    await asyncio.to_thread(postgres_script, "stop")
    await asyncio.sleep(1.5)
    await asyncio.to_thread(postgres_script, "start")


async def test_boots_through_a_postgres_restart(postgres_url: str) -> None:
    cloud = await AllInOne(_config(), schemas().new()).start()
    try:
        await seed(cloud)
        for index in range(HOSTS):
            driver = FakeDriver(vcpus=64, memory_mb=MEMORY, latency=Latency(spawn=0.2))
            await cloud.add_compute(f"pg{index}", driver)
        assert cloud.api is not None
        async with TestClient(TestServer(create_app(cloud.api, cloud.db))) as client:
            restart = asyncio.create_task(_restart_postgres())
            answers = await _burst(client)
            await restart
            statuses = Counter(status for status, _, _ in answers)
            assert set(statuses) <= {202, 503}, statuses
            assert statuses[503] > 0 and statuses[202] > 0, statuses  # the outage was seen
            assert max(t for s, _, t in answers if s == 503) < 5.0  # 503s fail fast

            # The service resumed by itself: a boot after the restart is accepted and built.
            after = await _boot(client, BOOTS)
            assert after[0] == 202, after
        uuids = [ident for _, ident, _ in answers if ident] + [after[1]]
        done = await wait_settled(cloud, [u for u in uuids if u], timeout=120)
        assert all(i.vm_state in (vm_states.ACTIVE, vm_states.ERROR) for i in done)
        assert done[-1].vm_state == vm_states.ACTIVE
        for host in cloud.computes:
            (node,) = await cloud.db.compute_node_get_all_by_host(None, host)
            assert node.memory_mb_used <= MEMORY * 1.5, node
            placed = sum(i.host == host and i.vm_state == vm_states.ACTIVE for i in done)
            assert len(cloud.driver(host).guests) == placed
    finally:
        await asyncio.to_thread(postgres_script, "start")  # whatever happened above
        await cloud.stop()
