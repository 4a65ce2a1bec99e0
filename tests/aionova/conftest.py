"""Shared fixtures: fast settings, a seeded all-in-one control plane, and polling helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from aionova.config import Config, DefaultOpts
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.objects import Flavor, ImageMeta, Instance
from aionova.states import task_states, vm_states
from tests.conftest import DatabaseFactory

FLAVORS = [
    Flavor(flavorid="1", name="m1.tiny", memory_mb=512, vcpus=1, root_gb=1),
    Flavor(flavorid="2", name="m1.small", memory_mb=1024, vcpus=1, root_gb=10),
    Flavor(flavorid="3", name="m1.medium", memory_mb=4096, vcpus=2, root_gb=40),
    Flavor(flavorid="99", name="m1.huge", memory_mb=1_000_000, vcpus=4, root_gb=10),
]
MakeCloud = Callable[..., Awaitable[AllInOne]]
"""The ``make_cloud`` fixture: ``cloud = await make_cloud(config)``."""

IMAGE = ImageMeta(id="155d900f-4e14-4e4c-a73d-069cbf4541e6", name="cirros", size=1024)


def fast_config(**default: object) -> Config:
    """Short intervals so liveness and periodic tasks are testable in seconds."""
    values: dict[str, object] = dict(
        host="control",
        report_interval=0.2,
        service_down_time=1.0,
        initial_report_delay=0.0,
        periodic_fuzzy_delay=0.0,
        update_resources_interval=60.0,
        rpc_response_timeout=10.0,
        long_rpc_timeout=30.0,
    )
    values.update(default)
    return Config(DEFAULT=DefaultOpts(**values))  # type: ignore[arg-type]


async def seed(cloud: AllInOne) -> None:
    """Flavors and one image."""
    for flavor in FLAVORS:
        await cloud.db.flavor_create(None, flavor)
    await cloud.db.image_create(None, IMAGE)


@pytest.fixture
def ctxt() -> RequestContext:
    return RequestContext(user_id="alice", project_id="demo")


@pytest.fixture
async def make_cloud(tmp_path: Path, databases: DatabaseFactory) -> AsyncIterator[MakeCloud]:
    """Factory: ``cloud = await make_cloud(config)``; every cloud is stopped at teardown."""
    started: list[AllInOne] = []

    async def factory(config: Config | None = None) -> AllInOne:
        url = databases.url(tmp_path, f"nova{len(started)}")
        cloud = AllInOne(config or fast_config(), url)
        await cloud.start()
        started.append(cloud)
        await seed(cloud)
        return cloud

    yield factory
    for cloud in reversed(started):
        await cloud.stop()


@pytest.fixture
async def cloud(make_cloud: MakeCloud) -> AllInOne:
    return await make_cloud()


SETTLED = (vm_states.ACTIVE, vm_states.ERROR)


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.02
) -> None:
    """Poll an async predicate until true; TimeoutError after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(interval)


async def wait_settled(cloud: AllInOne, uuids: list[str], timeout: float = 20.0) -> list[Instance]:
    """Wait until every instance is ACTIVE or ERROR with no task; returns them."""
    assert cloud.api is not None
    result: list[Instance] = []

    async def settled() -> bool:
        nonlocal result
        result = [await cloud.db.instance_get(None, u) for u in uuids]
        return all(i.vm_state in SETTLED and i.task_state is None for i in result)

    await wait_for(settled, timeout)
    return result


async def boot(
    cloud: AllInOne,
    ctxt: RequestContext,
    count: int = 1,
    *,
    host: str | None = None,
    flavor: str = "1",
) -> list[Instance]:
    """Boot ``count`` instances (forced onto ``host`` if given) and wait until ACTIVE."""
    assert cloud.api is not None
    zone = f"nova:{host}" if host else None
    instances, _ = await cloud.api.create(
        ctxt, flavor, IMAGE.id, min_count=count, availability_zone=zone
    )
    done = await wait_settled(cloud, [i.uuid for i in instances])
    assert all(i.vm_state == vm_states.ACTIVE for i in done), [i.vm_state for i in done]
    return done


async def wait_state(
    cloud: AllInOne,
    uuid: str,
    vm_state: str,
    task_state: str | None = None,
    timeout: float = 10.0,
) -> Instance:
    """Wait until an instance has exactly this vm_state and task_state; returns it."""
    found: Instance | None = None

    async def reached() -> bool:
        nonlocal found
        found = await cloud.db.instance_get(None, uuid, read_deleted=True)
        return found.vm_state == vm_state and found.task_state == task_state

    try:
        await wait_for(reached, timeout)
    except TimeoutError:
        raise AssertionError(f"{uuid}: wanted {vm_state}/{task_state}, have {found}") from None
    assert found is not None
    return found


async def events_of(cloud: AllInOne, uuid: str, action: str) -> dict[str, str | None]:
    """{event: result} of the newest action named ``action`` of an instance."""
    actions = [a for a in await cloud.db.actions_get(None, uuid) if a.action == action]
    assert actions, f"no {action} action on {uuid}"
    return {e.event: e.result for e in actions[-1].events}


__all__ = [
    "FLAVORS",
    "IMAGE",
    "boot",
    "events_of",
    "fast_config",
    "seed",
    "task_states",
    "wait_for",
    "wait_settled",
    "wait_state",
]
