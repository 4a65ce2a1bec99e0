"""Over RabbitMQ: api+conductor+scheduler in one process, computes in their own processes.

Needs ``bash scripts/rabbitmq.sh start`` (or ``AIONOVA_RABBIT_URL``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import Process, call, free_port, wait_http
from tests.conftest import database_for

pytestmark = pytest.mark.rabbit
CIRROS = "155d900f-4e14-4e4c-a73d-069cbf4541e6"


def _private(url: str) -> str:
    # A private exchange per run keeps its requests off other deployments' exchanges; queue
    # names follow the topic alone (as in oslo.messaging), so runs still share one broker
    # serially, not in parallel (a vhost per run would separate them fully).
    return f"{url}?control_exchange=aionova-mp-{uuid.uuid4().hex[:8]}"


class Deployment:
    def __init__(self, tmp: Path, url: str) -> None:
        self.tmp, self.url = tmp, url
        self.db = database_for(tmp)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.computes: dict[str, Process] = {}
        self.control = Process(
            [
                "all-in-one",
                "--computes",
                "0",
                "--port",
                str(self.port),
                "--database",
                self.db,
                "--transport-url",
                url,
            ],
            tmp / "control.log",
        )

    def start_compute(self, host: str, spawn_latency: float = 0.0) -> None:
        self.computes[host] = Process(
            [
                "compute",
                "--host",
                host,
                "--transport-url",
                self.url,
                "--spawn-latency",
                str(spawn_latency),
            ],
            self.tmp / f"{host}.log",
        )

    def stop(self) -> None:
        for proc in self.computes.values():
            proc.stop()
        self.control.stop()


def wait(predicate: Callable[[], Any], what: str, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def services(dep: Deployment) -> dict[str, dict[str, Any]]:
    status, body = call(dep.base, "GET", "/os-services?binary=nova-compute")
    assert status == 200
    return {s["host"]: s for s in body["services"]}


def server(dep: Deployment, ident: str) -> dict[str, Any]:
    status, body = call(dep.base, "GET", f"/servers/{ident}")
    assert status == 200, body
    return body["server"]


def boot(dep: Deployment, name: str, zone: str | None = None) -> str:
    spec: dict[str, Any] = {"name": name, "imageRef": CIRROS, "flavorRef": "1", "networks": "auto"}
    if zone:
        spec["availability_zone"] = zone
    status, body = call(dep.base, "POST", "/servers", {"server": spec})
    assert status == 202, body
    return str(body["server"]["id"])


def settled(dep: Deployment, ident: str) -> dict[str, Any] | None:
    s = server(dep, ident)
    return s if s["OS-EXT-STS:task_state"] is None and s["status"] in ("ACTIVE", "ERROR") else None


@pytest.fixture
def dep(tmp_path: Path, rabbit_url: str) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path, _private(rabbit_url))
    try:
        wait_http(f"{deployment.base}/v2.1")
        for host in ("mp1", "mp2", "mp3"):
            deployment.start_compute(host)
        wait(
            lambda: len([s for s in services(deployment).values() if s["state"] == "up"]) == 3,
            "three computes up",
        )
        yield deployment
    finally:
        deployment.stop()


def test_boot_and_evacuate_across_processes(dep: Deployment) -> None:
    ids = [boot(dep, f"mp-vm{i}") for i in range(3)]
    views = [wait(lambda i=i: settled(dep, i), f"{i} settled") for i in ids]
    assert {v["status"] for v in views} == {"ACTIVE"}
    source = views[0]["OS-EXT-SRV-ATTR:host"]
    status, body = call(dep.base, "POST", f"/servers/{ids[0]}/action", {"evacuate": {}})
    assert status == 400, body  # the source is still up
    svc = services(dep)[source]
    status, _ = call(dep.base, "PUT", f"/os-services/{svc['id']}", {"forced_down": True}, "2.53")
    assert status == 200
    status, body = call(dep.base, "POST", f"/servers/{ids[0]}/action", {"evacuate": {}})
    assert status == 200, body
    moved = wait(
        lambda: (s := settled(dep, ids[0])) and s["OS-EXT-SRV-ATTR:host"] != source and s,
        "evacuated",
    )
    assert moved["status"] == "ACTIVE"
    _, migrations = call(dep.base, "GET", f"/os-migrations?instance_uuid={ids[0]}")
    assert [m["status"] for m in migrations["migrations"]] == ["done"]
    # The source compute restarts: it cleans up and the migration becomes completed.
    dep.computes[source].stop()
    dep.start_compute(source)
    wait(
        lambda: (
            call(dep.base, "GET", f"/os-migrations?instance_uuid={ids[0]}")[1]["migrations"][0][
                "status"
            ]
            == "completed"
        ),
        "migration completed",
    )
    status, _ = call(dep.base, "PUT", f"/os-services/{svc['id']}", {"forced_down": False}, "2.53")
    assert status == 200


def test_compute_killed_mid_build_recovers(dep: Deployment) -> None:
    dep.start_compute("mp-slow", spawn_latency=30.0)
    wait(lambda: services(dep).get("mp-slow", {}).get("state") == "up", "slow compute up")
    ident = boot(dep, "doomed", zone="nova:mp-slow")
    wait(lambda: server(dep, ident)["OS-EXT-STS:task_state"] == "spawning", "spawning")
    dep.computes["mp-slow"].kill()  # SIGKILL mid-build
    dep.start_compute("mp-slow")
    # init_host: an instance left BUILDING by a crash goes to ERROR, and the host lives on.
    final = wait(lambda: settled(dep, ident), "recovered", timeout=60)
    assert final["status"] == "ERROR"
    wait(lambda: services(dep)["mp-slow"]["state"] == "up", "slow compute back")
    again = boot(dep, "after-crash", zone="nova:mp-slow")
    assert wait(lambda: settled(dep, again), "boot after restart")["status"] == "ACTIVE"
