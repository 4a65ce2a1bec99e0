"""``aionova events`` prints the control plane's notifications live, one line each."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from aionova import rpc
from aionova.cmd.events import describe, format_line, watch
from aionova.notifications import Notifications, NotificationsOpts, OsloMessagingNotificationsOpts
from aionova.notifications.settings import with_control_exchange
from aionova.objects import Service
from tests.notify.helpers import delete_queues
from tests.notify.instances import CTXT, Capture, make_instance

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} [A-Z]+ +\S+ \S+ .+$")


def emit_some(emitter: Notifications) -> None:
    instance = make_instance(task_state="rebooting")
    emitter.notify_about_instance_usage(CTXT, instance, "reboot.start")
    emitter.notify_about_instance_action(CTXT, instance, "reboot", "start")
    emitter.notify_about_service(
        CTXT, Service(host="h9", binary="nova-compute", uuid="u-1", forced_down=True)
    )


def test_line_format() -> None:
    legacy = {"instance_id": "u-1", "state": "active", "state_description": "rebooting"}
    versioned = {"nova_object.data": {"uuid": "u-2", "state": "stopped", "task_state": None}}
    line = format_line(
        "info", "compute.h1", "compute.instance.reboot.start", legacy, {"timestamp": "T"}
    )
    assert (
        line == "T INFO     compute.instance.reboot.start compute.h1 instance u-1 active/rebooting"
    )
    assert describe("instance.power_off.end", versioned) == "instance u-2 stopped"
    assert describe("x", "not a dict") == "-"


async def wait_for_lines(out: io.StringIO, count: int) -> list[str]:
    async with asyncio.timeout(10):
        while len(out.getvalue().splitlines()) < count:
            await asyncio.sleep(0.02)
    return out.getvalue().splitlines()


async def test_watch_prints_without_taking_from_other_consumers(bus_url: str) -> None:
    url = with_control_exchange(bus_url)
    out, stop, ready = io.StringIO(), asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(
        watch(url, ["notifications", "versioned_notifications"], out, stop, ready=ready.set)
    )
    billing = Capture()  # a pool-less consumer of the same topics
    async with rpc.get_notification_transport(url) as transport:
        targets = [rpc.Target(topic="notifications"), rpc.Target(topic="versioned_notifications")]
        async with rpc.get_notification_listener(transport, targets, [billing]):
            async with asyncio.timeout(10):
                await ready.wait()
            emitter = Notifications(
                transport, host="h1", notifications=NotificationsOpts(notification_format="both")
            )
            emit_some(emitter)
            lines = await wait_for_lines(out, 3)
            await billing.wait(3)
            await emitter.stop()
        stop.set()
        assert await watcher == 3
        bus = transport._driver.bus  # type: ignore[attr-defined]
        assert not [q for q in bus._queues if q.startswith("aionova-events-")]  # pool gone
    assert all(LINE.match(line) for line in lines), lines
    assert "compute.instance.reboot.start compute.h1 instance " in lines[0]
    assert lines[0].endswith("active/rebooting")
    assert "instance.reboot.start nova-compute:h1 instance " in lines[1]
    assert lines[2].endswith("service.update nova-compute:h9 service nova-compute@h9 forced_down")


@pytest.mark.rabbit
async def test_command_over_rabbit(rabbit_url: str) -> None:
    env = {**os.environ, "AIONOVA_LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aionova",
        "events",
        "--transport-url",
        rabbit_url,
        "--format",
        "both",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    emitter = None
    try:
        async with asyncio.timeout(60):
            banner = (await proc.stderr.readline()).decode()
        assert banner.startswith("watching notifications, versioned_notifications on rabbit://")
        assert "guest:***@" in banner
        emitter = Notifications.from_settings(
            NotificationsOpts(notification_format="both"),
            OsloMessagingNotificationsOpts(),
            rpc_transport_url=rabbit_url,
            host="h7",
        )
        emit_some(emitter)
        lines: list[str] = []
        async with asyncio.timeout(30):
            while len(lines) < 3:
                lines.append((await proc.stdout.readline()).decode().rstrip("\n"))
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if emitter is not None:
            await emitter.stop()
        await _drain_shared_queues(rabbit_url)
    assert all(LINE.match(line) for line in lines), lines
    events = sorted(line.split()[3] for line in lines)
    assert events == ["compute.instance.reboot.start", "instance.reboot.start", "service.update"]


async def _drain_shared_queues(rabbit_url: str) -> None:
    """The emitter's first publishes declared the shared ``notifications.*`` queues on
    exchange nova; remove them so no later test finds these messages."""
    await delete_queues(
        rabbit_url,
        [
            f"{t}.{p}"
            for t in ("notifications", "versioned_notifications")
            for p in ("info", "error")
        ],
    )
