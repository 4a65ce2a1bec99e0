"""Losing a RabbitMQ node loses no work: boot storms through the REST API of a
replicated control plane (two APIs, conductors and schedulers, four computes) on the
three-node cluster, with quorum queues (topic and transient) and at-least-once
delivery (durable queues, acknowledgements after processing).

The conductors' recovery of stuck builds is off here (``build_recovery_timeout = 0``),
so a build cast that went missing would stay in BUILD: every server ending ACTIVE or
ERROR shows that none was lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from aionova import messaging, rpc
from aionova.baserpc import BaseAPI
from aionova.context import get_admin_context
from aionova.notifications.settings import NOVA_CONTROL_EXCHANGE, with_control_exchange
from bench._daemons import ControlPlane, Daemon
from tests.cluster.cluster import Cluster, VirtualHost, unacked_by_pid
from tests.cluster.deploy import (
    boot,
    fast_sections,
    overcommitted,
    problems,
    running,
    start_replicated,
    states,
    unsettled,
    wait_for,
)

pytestmark = pytest.mark.cluster
PROBE_TIMEOUT = 8.0  # each probe call's timeout
# A POST answers once the broker confirmed the API's cast. A confirm lost with the node
# that stopped is published again after the confirm wait (10 s, connect_timeout), so
# through a failover a POST may take a few of those; the slowest one is printed.
POST_TIMEOUT = 60.0
RABBIT = {
    "rabbit_quorum_queue": True,
    "rabbit_transient_quorum_queue": True,
    "rabbit_quorum_delivery_limit": 20,
    "at_least_once": True,
    "heartbeat_timeout_threshold": 10,
    "rabbit_retry_interval": 0.5,
    "rabbit_retry_backoff": 0.5,
    "rabbit_interval_max": 2.0,
}
SECTIONS = fast_sections(
    oslo_messaging_rabbit=RABBIT,
    DEFAULT={"rpc_response_timeout": 30.0, "max_concurrent_builds": 4},
)
CONDUCTOR_ENV = {"AIONOVA_DEFAULT__RPC_MAX_CONCURRENCY": "2"}  # work waits, unacked, in a backlog


@dataclass
class Deployment:
    plane: ControlPlane
    cluster: Cluster
    vhost: str
    url: str
    posted: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def deployment(
    cluster_session: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    cluster = cluster_session
    if not cluster.is_formed():
        cluster.start()
    tmp = tmp_path_factory.mktemp("node-loss")
    database = os.environ.get("AIONOVA_TEST_DATABASE_URL") or f"sqlite:///{tmp / 'nova.sqlite'}"
    name = f"nodeloss-{uuid.uuid4().hex[:8]}"
    with VirtualHost(cluster.base, name):
        url = cluster.url().rstrip("/") + f"/{name}"
        plane = start_replicated(
            tmp,
            url,
            database,
            computes=4,
            sections=SECTIONS,
            tag="nl",
            env={"conductor": CONDUCTOR_ENV},
        )
        for _ in running(plane):
            yield Deployment(plane, cluster, name, url)


class Storm(threading.Thread):
    """POST /servers through both APIs in turn, ``rate`` a second, until stopped."""

    def __init__(self, dep: Deployment, rate: float, prefix: str) -> None:
        super().__init__(daemon=True)
        self.dep, self.interval, self.prefix = dep, 1.0 / rate, prefix
        self.ids: list[str] = []
        self.refused = 0
        self.failed: list[str] = []  # POSTs without an answer (the client gave up)
        self.slowest = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        apis = [api.url for api in self.dep.plane.of("api")]
        n = 0
        while not self._halt.is_set():
            t0 = time.monotonic()
            try:
                ident = boot(apis[n % len(apis)], f"{self.prefix}-{n}", timeout=POST_TIMEOUT)
            except OSError as exc:  # urllib's timeout or a refused connection
                ident = None
                self.failed.append(f"POST {n}: {exc!r} after {time.monotonic() - t0:.1f}s")
            else:
                if ident is None:
                    self.refused += 1
                else:
                    self.ids.append(ident)
            self.slowest = max(self.slowest, time.monotonic() - t0)
            n += 1
            self._halt.wait(max(0.0, self.interval - (time.monotonic() - t0)))

    def posted_more(self, count: int, timeout: float = 90.0) -> None:
        target = len(self.ids) + count

        def posted() -> bool:
            assert not self.failed, self.failed
            return len(self.ids) >= target

        try:
            wait_for(posted, f"{count} more servers posted", timeout)
        except AssertionError as exc:  # read the daemons' logs only when it failed
            raise AssertionError(f"{exc}\n{problems(self.dep.plane)}") from None

    def stop(self) -> None:
        self._halt.set()
        self.join(60)


class Prober(threading.Thread):
    """Calls ``ping`` on the conductor and scheduler topics, one after another, each
    with PROBE_TIMEOUT; records how each ended and how long it took."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.outcomes: list[tuple[str, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        asyncio.run(self._probe())

    async def _probe(self) -> None:
        transport = messaging.get_transport(self.url)
        apis = [BaseAPI(transport, "conductor"), BaseAPI(transport, "scheduler")]
        ctxt = get_admin_context()
        n = 0
        try:
            while not self._halt.is_set():
                t0 = time.monotonic()
                try:
                    await apis[n % 2].ping(ctxt, n, call_timeout=PROBE_TIMEOUT)
                    outcome = "ok"
                except rpc.MessagingTimeout:
                    outcome = "timeout"
                except Exception as exc:  # anything else is a failure of the test
                    outcome = f"{type(exc).__name__}: {exc}"
                self.outcomes.append((outcome, time.monotonic() - t0))
                n += 1
                await asyncio.sleep(0.2)
        finally:
            await transport.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(PROBE_TIMEOUT * 3)


def _ports_by_daemon(dep: Deployment) -> dict[str, set[int]]:
    """host → the node ports its daemon is connected to (one look at the broker)."""
    connections = dep.cluster.connections()
    return {
        d.host: {c["port"] for c in connections if f":{d.pid}:" in c["name"]}
        for d in dep.plane.daemons
    }


def _reconnected_away_from(dep: Deployment, port: int) -> dict[str, set[int]]:
    """Every daemon connected again, none through ``port`` (waits for it)."""

    def check() -> dict[str, set[int]] | None:
        ports = _ports_by_daemon(dep)
        ok = all(p and port not in p for p in ports.values())
        return ports if ok else None

    return wait_for(check, f"every daemon reconnected away from {port}", 90)


def _settle_and_check(dep: Deployment, ids: list[str], timeout: float = 240.0) -> dict[str, int]:
    """Wait until every server is ACTIVE or ERROR; none stuck, no host over its limits."""
    database = dep.plane.database
    wait_for(lambda: not unsettled(database, ids), f"{len(ids)} servers ACTIVE or ERROR", timeout)
    now = states(database)
    stuck = {u: s for u, s in now.items() if s not in (("active", None), ("error", None))}
    assert stuck == {}, f"stuck instances: {stuck}"
    assert overcommitted(database) == {}
    mine = [now[i][0] for i in ids]
    return {"servers": len(ids), "active": mine.count("active"), "error": mine.count("error")}


def test_losing_the_connected_node_then_the_leaders_node_loses_nothing(
    deployment: Deployment,
) -> None:
    dep, cluster = deployment, deployment.cluster
    # On the control plane's exchange ([DEFAULT] control_exchange, Nova's "nova").
    probe_url = with_control_exchange(
        cluster.url(**RABBIT).replace("/?", f"/{dep.vhost}?"), NOVA_CONTROL_EXCHANGE
    )
    storm, prober = Storm(dep, rate=3.0, prefix="loss"), Prober(probe_url)
    storm.start()
    prober.start()
    try:
        storm.posted_more(10)  # the APIs connect on their first cast
        first = _ports_by_daemon(dep)
        assert all(ports == {cluster.ports[0]} for ports in first.values()), first  # round-robin
        # 1. the node every service is connected to (and that holds the leaders it declared),
        # once RabbitMQ says stopping it leaves every quorum queue a majority (a node an
        # earlier test restarted may still be catching up as a replica)
        connected = cluster.ports[0]
        members = cluster.queues(dep.vhost)["conductor"]["members"]
        assert len(members) == 3, members
        cluster.wait_safe_to_stop(cluster.node_of(connected))
        cluster.stop_node(cluster.node_of(connected))
        try:
            moved = _reconnected_away_from(dep, connected)
            storm.posted_more(15)
        finally:
            cluster.start_node(cluster.node_of(connected))
        back = f"rabbit{connected}@localhost"
        assert back in cluster.queues(dep.vhost)["conductor"]["members"]  # it rejoined
        # 2. the node holding the conductor queue's leader now, once it is safe to stop
        # (RabbitMQ's check: the node that came back has caught up as a replica)
        leader = cluster.leader_port("conductor", dep.vhost)
        cluster.wait_safe_to_stop(cluster.node_of(leader))
        cluster.stop_node(cluster.node_of(leader))
        try:
            if any(leader in ports for ports in moved.values()):
                _reconnected_away_from(dep, leader)
            # With `leader` down, the queues need the node that came back for a majority.
            storm.posted_more(15)
        finally:
            cluster.start_node(cluster.node_of(leader))
        storm.posted_more(5)
    finally:
        storm.stop()
        prober.stop()
    assert storm.refused == 0 and not storm.failed, (storm.refused, storm.failed)
    result = _settle_and_check(dep, storm.ids)
    bad = [o for o in prober.outcomes if o[0] not in ("ok", "timeout")]
    late = [o for o in prober.outcomes if o[1] > PROBE_TIMEOUT + 2.0]
    outcomes = [o for o, _ in prober.outcomes]
    print(  # the figures of the run (pytest -s shows them)
        f"node loss: {result}, slowest POST {storm.slowest:.1f}s, probe calls "
        f"{outcomes.count('ok')} ok / {outcomes.count('timeout')} MessagingTimeout, "
        f"longest {max(d for _, d in prober.outcomes):.1f}s"
    )
    assert not bad and not late, (bad, late, problems(dep.plane))
    assert sum(o == "ok" for o, _ in prober.outcomes) > len(prober.outcomes) // 2
    assert all(d.alive() for d in dep.plane.daemons)


def _restart(dep: Deployment, daemon: Daemon) -> None:
    dep.plane.daemons.remove(daemon)
    dep.plane.start(daemon.role, daemon.host, env=CONDUCTOR_ENV)
    dep.plane.wait_ready(timeout=120)


def test_sigkill_of_one_conductor_mid_storm_its_builds_finish_on_the_other(
    deployment: Deployment,
) -> None:
    dep, cluster = deployment, deployment.cluster
    victim = dep.plane.of("conductor")[0]
    storm = Storm(dep, rate=4.0, prefix="kill")
    storm.start()
    try:
        storm.posted_more(6)
        # Freeze it mid-work: what it took stays unacknowledged, and more keeps coming.
        os.kill(victim.pid, signal.SIGSTOP)
        wait_for(
            lambda: unacked_by_pid(cluster, dep.vhost).get(victim.pid, 0) >= 3,
            "builds unacknowledged by the frozen conductor",
            60,
        )
        victim.kill()  # SIGKILL: the broker gives its unacknowledged builds to the other
        storm.posted_more(10)
    finally:
        storm.stop()
        if victim.alive():
            victim.kill()
    assert storm.refused == 0
    print(f"conductor SIGKILL: {_settle_and_check(dep, storm.ids)}")
    assert cluster.queues(dep.vhost)["conductor"]["consumers"] >= 1
    _restart(dep, victim)
