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


def test_listen_url_and_topics_come_from_the_settings(tmp_path: Path) -> None:
    from aionova.cmd.events import listen_url, topics_for
    from aionova.cmd.main import _parser, load_config

    path = tmp_path / "aionova.toml"
    path.write_text(
        '[DEFAULT]\ntransport_url = "rabbit://u:p@rpc:5672/"\ncontrol_exchange = "cloud2"\n'
        '[notifications]\nnotification_format = "versioned"\n'
        'versioned_notifications_topics = ["vn"]\n'
        '[oslo_messaging_notifications]\ntransport_url = "rabbit://u:p@notify:5672/"\n'
        'topics = ["legacy"]\n'
    )
    args = _parser().parse_args(["events", "--config", str(path)])
    cfg = load_config(args)
    assert args.format is None
    assert (
        listen_url(cfg, args.transport_url) == "rabbit://u:p@notify:5672/?control_exchange=cloud2"
    )
    fmt = args.format or cfg.notifications.notification_format
    topics = topics_for(fmt, cfg.notifications, cfg.oslo_messaging_notifications)
    assert topics == ["vn"]
    topics = topics_for("both", cfg.notifications, cfg.oslo_messaging_notifications)
    assert topics == ["legacy", "vn"]
    args = _parser().parse_args(["events", "--config", str(path), "--transport-url", "memory://x"])
    assert listen_url(load_config(args), args.transport_url) == "memory://x?control_exchange=cloud2"


@pytest.mark.rabbit
async def test_command_against_a_running_control_plane(rabbit_url: str, tmp_path: Path) -> None:
    """A real all-in-one over RabbitMQ; ``aionova events`` takes its format from the
    settings (``notification_format = "both"``, no ``--format``) and prints a boot."""
    from tests.clients.conftest import Process, call, free_port, wait_http

    port = free_port()
    env = {"AIONOVA_NOTIFICATIONS__NOTIFICATION_FORMAT": "both"}
    argv = ["all-in-one", "--computes", "1", "--port", str(port), "--transport-url", rabbit_url]
    argv += ["--database", str(tmp_path / "n.sqlite")]
    control = Process(argv, tmp_path / "control.log", env)
    base = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "aionova", "events", "--transport-url", rabbit_url),
        cwd=REPO,
        env={**os.environ, **env, "AIONOVA_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            banner = (await proc.stderr.readline()).decode()
        assert "notifications, versioned_notifications on rabbit://" in banner
        await asyncio.to_thread(wait_http, f"{base}/v2.1")
        spec = {"name": "ev", "imageRef": "155d900f-4e14-4e4c-a73d-069cbf4541e6"}
        spec |= {"flavorRef": "1", "networks": "auto"}
        status, body = await asyncio.to_thread(call, base, "POST", "/servers", {"server": spec})
        assert status == 202, body
        uuid = body["server"]["id"]
        async with asyncio.timeout(60):
            while sum(uuid in line for line in lines) < 4:
                lines.append((await proc.stdout.readline()).decode().rstrip("\n"))
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            async with asyncio.timeout(30):
                await proc.wait()
        await asyncio.to_thread(control.stop)
        await _drain_shared_queues(rabbit_url)
    mine = [line for line in lines if uuid in line]
    assert all(LINE.match(line) for line in mine), mine
    assert [line.split()[3] for line in mine] == [
        "compute.instance.create.start",
        "instance.create.start",
        "compute.instance.create.end",
        "instance.create.end",
    ]
    assert mine[0].split()[2] == "INFO" and mine[0].split()[4] == "compute.compute1"
    assert mine[1].split()[4] == "nova-compute:compute1"
    assert mine[-1].endswith(f"instance {uuid} active")
