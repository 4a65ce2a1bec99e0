"""Two of each control service (api, conductor, scheduler) and three computes, each a
process of its own, sharing one database and one broker: every operation done once.

The database is ``AIONOVA_TEST_DATABASE_URL`` when set (a fresh PostgreSQL database,
say), else a SQLite file; the broker is the single node of scripts/rabbitmq.sh, in a
vhost of the test's own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from aionova import messaging
from aionova.api.compute import API
from aionova.context import RequestContext
from aionova.db import Database
from bench._daemons import ControlPlane, rest
from tests.cluster.cluster import VirtualHost
from tests.cluster.deploy import (
    CIRROS,
    TINY,
    boot,
    config_for,
    fast_sections,
    overcommitted,
    running,
    start_replicated,
    unsettled,
    wait_for,
)

pytestmark = pytest.mark.rabbit
SECTIONS = fast_sections(conductor={"build_recovery_timeout": 8.0, "recovery_interval": 1.0})


@pytest.fixture
def plane(tmp_path: Path, rabbit_url: str, database_url: str) -> Iterator[ControlPlane]:
    port = urlsplit(rabbit_url.split(",")[0]).port or 5672
    with VirtualHost(port, f"replicated-{uuid.uuid4().hex[:8]}") as vhost:
        deployment = start_replicated(
            tmp_path, vhost.url(rabbit_url), database_url, sections=SECTIONS
        )
        deployment.vhost = vhost  # type: ignore[attr-defined]
        yield from running(deployment)


def _events(api: str, server: str) -> tuple[list[str], list[str]]:
    """The server's action names, and the event names of its create action."""
    status, body = rest(api, "GET", f"/servers/{server}/os-instance-actions")
    assert status == 200, body
    actions = body["instanceActions"]
    create = next(a for a in actions if a["action"] == "create")
    status, body = rest(api, "GET", f"/servers/{server}/os-instance-actions/{create['request_id']}")
    assert status == 200, body
    return [a["action"] for a in actions], [e["event"] for e in body["instanceAction"]["events"]]


def test_two_of_each_share_the_work_and_do_each_operation_once(plane: ControlPlane) -> None:
    apis = [api.url for api in plane.of("api")]
    ids = [boot(apis[i % 2], f"rep-{i}") for i in range(12)]
    assert None not in ids
    servers = [i for i in ids if i is not None]
    wait_for(lambda: not unsettled(plane.database, servers), "12 servers settled")
    for api in apis:  # one database: both APIs see every server ACTIVE
        status, body = rest(api, "GET", "/servers/detail")
        assert status == 200
        seen = {s["id"]: s["status"] for s in body["servers"]}
        assert all(seen.get(i) == "ACTIVE" for i in servers), seen
    # Casts to a topic are shared: both copies consume the topic queue.
    queues = plane.vhost.queues()  # type: ignore[attr-defined]
    assert queues["conductor"]["consumers"] == 2 and queues["scheduler"]["consumers"] == 2
    for server in servers:
        actions, events = _events(apis[0], server)
        assert actions == ["create"]
        assert events.count("compute__do_build_and_run_instance") == 1, events
    assert overcommitted(plane.database) == {}
    hosts = {
        rest(apis[1], "GET", f"/servers/{i}")[1]["server"]["OS-EXT-SRV-ATTR:host"] for i in servers
    }
    assert len(hosts) > 1  # two schedulers spread the builds over the computes


async def _accept_and_lose(database: str) -> str:
    """What an API that crashed right after accepting a build leaves: the instance in
    BUILD/scheduling, its build cast gone (sent to a bus nobody listens on)."""
    cfg = config_for(SECTIONS)
    transport = messaging.get_transport(f"memory://lost-{uuid.uuid4().hex[:8]}")
    async with Database(database) as db:
        try:
            api = API(db, transport, cfg)
            ctxt = RequestContext(user_id="admin", project_id="admin", is_admin=True)
            instances, _ = await api.create(ctxt, TINY, CIRROS, name="orphan")
            return str(instances[0].uuid)
        finally:
            await transport.close()


def test_two_conductors_recover_a_lost_build_once(plane: ControlPlane) -> None:
    orphan = asyncio.run(_accept_and_lose(plane.database))
    wait_for(lambda: not unsettled(plane.database, [orphan]), "the orphan recovered", 60)
    api = plane.of("api")[0].url
    status, body = rest(api, "GET", f"/servers/{orphan}")
    assert status == 200 and body["server"]["status"] == "ACTIVE", body
    actions, events = _events(api, orphan)
    assert actions == ["create"]
    # both conductors look every second; the compare-and-swap lets one act, once
    assert events.count("conductor_recover_build") == 1, events
    assert events.count("compute__do_build_and_run_instance") == 1, events
