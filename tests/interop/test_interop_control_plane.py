"""Real oslo.messaging listens to the control plane's notifications on real RabbitMQ.

The daemons (``aionova all-in-one --computes 0`` and two ``aionova compute``
processes) run over ``rabbit://`` with ``notification_format = "both"`` and the
default control exchange ``nova``. An oslo.messaging notification listener
(threading executor, one worker thread so its endpoint sees the queue's order)
in a pool of its own, on ``notifications`` and ``versioned_notifications`` of
exchange ``nova``, sees a boot, a soft and a hard reboot, a rebuild, an evacuation
and a delete, in order, for the instance they were done to.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oslo_messaging
import pytest
from oslo_notify_peer import ThreadRecorder, oslo_conf

from tests.aionova.notifying import (
    BOOT,
    DELETE,
    EVACUATE,
    REBOOT,
    REBUILD,
    expected,
)
from tests.clients.conftest import Process, call, free_port, wait_http
from tests.notify.helpers import delete_queues

pytestmark = [pytest.mark.rabbit, pytest.mark.interop]
CIRROS = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
DEFAULT_QUEUES = [
    f"{t}.{p}" for t in ("notifications", "versioned_notifications") for p in ("info", "error")
]


def wait(predicate: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


class Cloud:
    """The daemons of one deployment on the broker, on the default exchange (nova)."""

    def __init__(self, tmp: Path, url: str, run: str) -> None:
        self.tmp, self.url, self.run = tmp, url, run
        self.control_host = f"nfy-{run}-control"
        self.env = {
            "AIONOVA_NOTIFICATIONS__NOTIFICATION_FORMAT": "both",
            "AIONOVA_DEFAULT__HOST": self.control_host,
        }
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.computes: dict[str, Process] = {}
        args = ["all-in-one", "--computes", "0", "--port", str(self.port)]
        args += ["--database", str(tmp / "nova.sqlite"), "--transport-url", url]
        self.control = Process(args, tmp / "control.log", self.env)

    def start_compute(self, host: str) -> None:
        args = ["compute", "--host", host, "--transport-url", self.url]
        self.computes[host] = Process(args, self.tmp / f"{host}.log", self.env)

    def services(self) -> dict[str, dict[str, Any]]:
        status, body = call(self.base, "GET", "/os-services?binary=nova-compute")
        assert status == 200, body
        return {s["host"]: s for s in body["services"]}

    def server(self, ident: str) -> dict[str, Any] | None:
        status, body = call(self.base, "GET", f"/servers/{ident}")
        return body["server"] if status == 200 else None

    def settled(self, ident: str) -> dict[str, Any] | None:
        s = self.server(ident)
        idle = s is not None and s["OS-EXT-STS:task_state"] is None
        return s if idle and s["status"] in ("ACTIVE", "ERROR") else None

    def act(self, ident: str, action: dict[str, Any]) -> dict[str, Any]:
        status, body = call(self.base, "POST", f"/servers/{ident}/action", action)
        assert status in (200, 202), body
        return wait(lambda: self.settled(ident), f"{ident} after {list(action)}")

    def stop(self) -> None:
        for proc in self.computes.values():
            proc.stop()
        self.control.stop()


@pytest.fixture
def cloud(tmp_path: Path, rabbit_url: str) -> Iterator[Cloud]:
    run = uuid.uuid4().hex[:8]
    deployment = Cloud(tmp_path, rabbit_url, run)
    try:
        wait_http(f"{deployment.base}/v2.1")
        for side in ("a", "b"):
            deployment.start_compute(f"nfy-{run}-{side}")
        wait(
            lambda: sum(s["state"] == "up" for s in deployment.services().values()) == 2,
            "two computes up",
        )
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def oslo_listener(rabbit_url: str) -> Iterator[ThreadRecorder]:
    """oslo.messaging's listener in a pool of its own, on exchange ``nova``."""
    conf = oslo_conf()
    conf.register_opts(oslo_messaging.server._pool_opts)
    conf.set_override("executor_thread_pool_size", 1)  # one thread: calls in queue order
    transport = oslo_messaging.get_notification_transport(conf, url=rabbit_url)
    pool = f"interop-nova-{uuid.uuid4().hex[:8]}"
    targets = [
        oslo_messaging.Target(topic=topic, exchange="nova")
        for topic in ("notifications", "versioned_notifications")
    ]
    recorder = ThreadRecorder()
    listener = oslo_messaging.get_notification_listener(
        transport, targets, [recorder], executor="threading", pool=pool
    )
    listener.start()
    try:
        yield recorder
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
        asyncio.run(delete_queues(rabbit_url, [pool, *DEFAULT_QUEUES]))


def about(recorder: ThreadRecorder, ident: str) -> list[tuple[str, str, str]]:
    """(priority, publisher, event_type) of the notifications about an instance."""
    with recorder.lock:
        seen = list(recorder.seen)
    out = []
    for priority, _ctxt, publisher, event_type, payload, _md in seen:
        data = payload.get("nova_object.data", payload) if isinstance(payload, dict) else {}
        if ident in (data.get("uuid"), data.get("instance_id")):
            out.append((priority, publisher, event_type))
    return out


def test_oslo_listener_sees_the_control_plane(cloud: Cloud, oslo_listener: ThreadRecorder) -> None:
    run = cloud.run
    a, b = f"nfy-{run}-a", f"nfy-{run}-b"
    spec = {"name": "nfy", "imageRef": CIRROS, "flavorRef": "1", "networks": "auto"}
    spec["availability_zone"] = f"nova:{a}"
    status, body = call(cloud.base, "POST", "/servers", {"server": spec})
    assert status == 202, body
    ident = body["server"]["id"]
    assert wait(lambda: cloud.settled(ident), "booted")["status"] == "ACTIVE"
    cloud.act(ident, {"reboot": {"type": "SOFT"}})
    cloud.act(ident, {"reboot": {"type": "HARD"}})
    cloud.act(ident, {"rebuild": {"imageRef": CIRROS}})
    cloud.computes[a].stop()
    service_id = cloud.services()[a]["id"]
    status, _ = call(cloud.base, "PUT", f"/os-services/{service_id}", {"forced_down": True}, "2.53")
    assert status == 200
    cloud.act(ident, {"evacuate": {}})
    # the host moves after the rebuild's last state save (as in Nova): wait for it
    moved = wait(
        lambda: (s := cloud.settled(ident)) and s["OS-EXT-SRV-ATTR:host"] == b and s, "moved"
    )
    assert moved["status"] == "ACTIVE"
    status, _ = call(cloud.base, "DELETE", f"/servers/{ident}")
    assert status == 204
    wait(lambda: cloud.server(ident) is None, "deleted")

    flow = BOOT + REBOOT + REBOOT + REBUILD + EVACUATE + DELETE
    want = expected("both", flow)
    wait(lambda: len(about(oslo_listener, ident)) >= len(want), "every notification", 30)
    seen = about(oslo_listener, ident)
    assert [s[2] for s in seen] == want
    assert {s[0] for s in seen} == {"info"}
    publishers = {(event, publisher) for _, publisher, event in seen}
    assert ("instance.create.end", f"nova-compute:{a}") in publishers
    assert ("compute.instance.create.end", f"compute.{a}") in publishers
    assert ("instance.evacuate", f"nova-api:{cloud.control_host}") in publishers
    assert ("instance.rebuild_scheduled", f"nova-conductor:{b}") in publishers
    assert ("instance.delete.end", f"nova-compute:{b}") in publishers
