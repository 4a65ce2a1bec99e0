"""Two schedulers (competing consumers of the scheduler topic) choosing for the same small
hosts at the same time never overcommit one: claims are atomic in the database
(issue 14). Runs on the session's database: SQLite, and PostgreSQL in the second run."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from aionova.config import Config, SchedulerOpts
from aionova.context import RequestContext
from aionova.db import Database
from aionova.deployment import AllInOne
from aionova.objects import Instance
from aionova.scheduler.manager import SchedulerManager
from aionova.service import Service
from aionova.states import vm_states
from aionova.virt.fake import FakeDriver, Latency
from tests.aionova.conftest import IMAGE, fast_config, seed, wait_settled
from tests.conftest import DatabaseFactory

HOSTS = 4
# 2048 MB, ratio 1.0, 512 MB reserved: three m1.tiny (512 MB, 1 vCPU) per host.
PER_HOST = 3
MEMORY, RESERVED, VCPUS = 2048, 512, 4
BOOTS = 30


def _config() -> Config:
    """Small hosts, and no reschedule (max_attempts 1): a build the compute's claim
    refuses goes ERROR at once, so any slip of the schedulers shows as an ERROR while
    room was left."""
    config = fast_config(
        service_down_time=30.0,  # a loaded machine's late heartbeat must not hide a host
        ram_allocation_ratio=1.0,
        cpu_allocation_ratio=1.0,
        disk_allocation_ratio=1.0,
        reserved_host_memory_mb=RESERVED,
        max_concurrent_builds=20,
    )
    return msgspec.structs.replace(config, scheduler=SchedulerOpts(max_attempts=1))


async def _second_scheduler(cloud: AllInOne, url: str) -> tuple[Service, Database]:
    """Another scheduler process, as it would run: its own database connection."""
    db = await Database(url, cloud.config.database).open()
    assert cloud.transport is not None
    manager = SchedulerManager("scheduler2", cloud.config, cloud.transport, db.retrying())
    service = Service("nova-scheduler", "scheduler", "scheduler2", manager)
    await service.start()
    return service, db


def _count_calls(manager: SchedulerManager, counts: Counter[str], name: str) -> None:
    original = manager.select_destinations

    async def counted(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return await original(*args, **kwargs)

    manager.select_destinations = counted  # type: ignore[method-assign]


async def _within_limits(cloud: AllInOne, instances: list[Instance]) -> dict[str, int]:
    """Instances per host, after checking every host is within its limits (the guests on
    its hypervisor, the instances placed on it, and the database's allocations)."""
    placed = Counter(i.host for i in instances if i.vm_state == vm_states.ACTIVE)
    for host in cloud.computes:
        guests = cloud.driver(host).guests
        assert len(guests) <= PER_HOST, (host, guests)
        assert placed[host] <= PER_HOST and len(guests) == placed[host], (host, placed)
        (node,) = await cloud.db.compute_node_get_all_by_host(None, host)
        assert node.memory_mb_used <= MEMORY and node.vcpus_used <= VCPUS, node
    rows = await cloud.db.engine.fetch(
        "SELECT host, SUM(memory_mb), COUNT(*) FROM allocations GROUP BY host"
    )
    for host, memory, count in rows:
        assert int(memory) + RESERVED <= MEMORY, (host, memory)
        assert int(count) == placed[host], (host, count, placed)
    return dict(placed)


async def test_two_schedulers_racing_for_small_hosts_never_overcommit(
    databases: DatabaseFactory, tmp_path: Path, ctxt: RequestContext
) -> None:
    url = databases.url(tmp_path)
    cloud = await AllInOne(_config(), url).start()
    second, second_db = await _second_scheduler(cloud, url)
    try:
        await seed(cloud)
        for index in range(HOSTS):
            driver = FakeDriver(vcpus=VCPUS, memory_mb=MEMORY, latency=Latency(spawn=0.05))
            await cloud.add_compute(f"small{index}", driver)
        counts: Counter[str] = Counter()
        assert cloud.scheduler is not None and cloud.api is not None
        first = cloud.scheduler.manager
        assert isinstance(first, SchedulerManager) and isinstance(second.manager, SchedulerManager)
        _count_calls(first, counts, "first")
        _count_calls(second.manager, counts, "second")

        api = cloud.api
        created = await asyncio.gather(*(api.create(ctxt, "1", IMAGE.id) for _ in range(BOOTS)))
        uuids = [instances[0].uuid for instances, _ in created]
        done = await wait_settled(cloud, uuids, timeout=60)

        placed = await _within_limits(cloud, done)
        active = [i for i in done if i.vm_state == vm_states.ACTIVE]
        errors = [i for i in done if i.vm_state == vm_states.ERROR]
        # NoValidHost only when truly full: every slot of every host is used.
        assert len(active) == HOSTS * PER_HOST, placed
        assert len(errors) == BOOTS - HOSTS * PER_HOST
        for instance in errors:
            fault = await api.get_fault(ctxt, instance)
            assert fault is not None and "No valid host" in fault.message
        assert counts["first"] > 0 and counts["second"] > 0, counts  # both raced
    finally:
        await second.stop()
        await second_db.close()
        await cloud.stop()


async def test_a_claim_that_loses_moves_to_the_next_host(cloud: AllInOne) -> None:
    """The database refuses a claim that no longer fits (another scheduler took the room),
    returning what the node holds. A build placed already keeps its placement (another
    delivery of its request made it); once it is given back (a reschedule), a claim
    elsewhere moves it."""
    for host in ("h1", "h2"):
        await cloud.add_compute(host, FakeDriver(vcpus=2, memory_mb=1024))
    nodes = {h: (await cloud.db.compute_node_get_all_by_host(None, h))[0] for h in ("h1", "h2")}
    ctxt = RequestContext(user_id="u", project_id="p")
    waiting = []
    for name in ("a", "b"):
        instance = Instance(uuid=f"uuid-{name}", vm_state="building", task_state="scheduling")
        waiting.append(await cloud.db.instance_create(ctxt, instance))
    limits = {"memory_mb": 1024 * 1.5}  # fast_config's ratio: 1536 MB; 512 MB reserved
    h1 = nodes["h1"].id
    assert h1 is not None and nodes["h2"].id is not None
    h2 = nodes["h2"].id
    assert await cloud.db.allocation_claim(None, "uuid-a", h1, (1024, 1, 1), limits) == (
        True,
        (0, 0, 0),
        None,
    )
    ok, used, _ = await cloud.db.allocation_claim(None, "uuid-b", h1, (512, 1, 1), limits)
    assert (ok, used) == (False, (1024, 1, 1))
    ok, _, held = await cloud.db.allocation_claim(None, "uuid-b", h2, (512, 1, 1), limits)
    assert ok and held is None
    # "a" claimed again (a repeated select_destinations): where it is placed stands ...
    again = await cloud.db.allocation_claim(None, "uuid-a", h2, (512, 1, 1), {})
    assert again == (True, (0, 0, 0), ("h1", "h1"))
    assert (await cloud.db.allocation_usage_by_node(None))[h1] == (1024, 1, 1)
    # ... until it is given back (a reschedule): then a claim elsewhere moves it.
    await cloud.db.allocation_delete(None, "uuid-a")
    assert (await cloud.db.allocation_claim(None, "uuid-a", h2, (512, 1, 1), {}))[0]
    usage = await cloud.db.allocation_usage_by_node(None)
    assert usage == {h2: (1024, 2, 2)}
