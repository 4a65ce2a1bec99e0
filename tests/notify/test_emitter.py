"""The control plane's emitter: formats, settings, and never in the way of an operation."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import msgspec
import pytest

from aionova import rpc
from aionova.notifications import (
    Notifications,
    NotificationsOpts,
    OsloMessagingNotificationsOpts,
    notification_transport_url,
)
from aionova.notifications.settings import with_control_exchange
from tests.notify.instances import CTXT, Capture, make_instance


def test_settings_defaults_and_validation() -> None:
    opts, messaging = NotificationsOpts(), OsloMessagingNotificationsOpts()
    assert opts.notification_format == "unversioned"
    assert opts.versioned_notifications_topics == ["versioned_notifications"]
    assert opts.legacy and not opts.versioned
    assert messaging.driver == ["messagingv2"] and messaging.topics == ["notifications"]
    assert messaging.transport_url is None and messaging.enabled
    assert not OsloMessagingNotificationsOpts(driver=[]).enabled
    loaded = msgspec.convert({"notification_format": "both"}, NotificationsOpts)
    assert loaded.legacy and loaded.versioned
    with pytest.raises(msgspec.ValidationError, match="notification_format"):
        msgspec.convert({"notification_format": "json"}, NotificationsOpts)


def test_transport_url_and_control_exchange() -> None:
    messaging = OsloMessagingNotificationsOpts()
    assert notification_transport_url(messaging, "memory://a") == "memory://a?control_exchange=nova"
    rabbit = "rabbit://u:p@h:5672/?heartbeat=30"
    assert notification_transport_url(messaging, rabbit) == f"{rabbit}&control_exchange=nova"
    own = OsloMessagingNotificationsOpts(transport_url="rabbit://n/?control_exchange=other")
    assert notification_transport_url(own, "memory://a") == "rabbit://n/?control_exchange=other"
    assert with_control_exchange("memory://a", "x") == "memory://a?control_exchange=x"


async def emit_all(emitter: Notifications) -> None:
    instance = make_instance()
    emitter.notify_about_instance_usage(CTXT, instance, "reboot.start")
    emitter.notify_about_instance_action(CTXT, instance, "reboot", "start")
    emitter.notify_about_instance_usage(CTXT, instance, "reboot.end")
    emitter.notify_about_instance_action(CTXT, instance, "reboot", "end")
    await emitter.join()


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("unversioned", ["compute.instance.reboot.start", "compute.instance.reboot.end"]),
        ("versioned", ["instance.reboot.start", "instance.reboot.end"]),
        (
            "both",
            [
                "compute.instance.reboot.start",
                "instance.reboot.start",
                "compute.instance.reboot.end",
                "instance.reboot.end",
            ],
        ),
    ],
)
async def test_formats_choose_the_events(bus_url: str, fmt: Any, expected: list[str]) -> None:
    url = with_control_exchange(bus_url)
    capture = Capture()
    async with rpc.get_notification_transport(url) as transport:
        emitter = Notifications(
            transport, host="h1", notifications=NotificationsOpts(notification_format=fmt)
        )
        targets = [rpc.Target(topic="notifications"), rpc.Target(topic="versioned_notifications")]
        listener = rpc.get_notification_listener(transport, targets, [capture], max_concurrency=1)
        async with listener:
            await emit_all(emitter)
            await capture.wait(len(expected))
            await emitter.stop()
    assert [g[2] for g in capture.got] == expected  # in order
    publishers = {g[2]: g[1] for g in capture.got}
    assert all(
        p == ("compute.h1" if e.startswith("compute.") else "nova-compute:h1")
        for e, p in publishers.items()
    )


async def test_topics_from_settings(bus_url: str) -> None:
    capture = Capture()
    emitter = Notifications.from_settings(
        NotificationsOpts(notification_format="both", versioned_notifications_topics=["v1", "v2"]),
        OsloMessagingNotificationsOpts(topics=["legacy"]),
        rpc_transport_url=bus_url,
        host="h2",
        binary="nova-conductor",
    )
    async with rpc.get_notification_transport(with_control_exchange(bus_url)) as transport:
        targets = [rpc.Target(topic=t) for t in ("legacy", "v1", "v2")]
        async with rpc.get_notification_listener(transport, targets, [capture]):
            emitter.notify_about_instance_rebuild(CTXT, make_instance(), action="rebuild_scheduled")
            emitter.notify_about_instance_usage(CTXT, make_instance(), "rebuild.scheduled")
            await capture.wait(3)
            await emitter.stop()
    assert sorted(g[2] for g in capture.got) == [
        "compute.instance.rebuild.scheduled",
        "instance.rebuild_scheduled",
        "instance.rebuild_scheduled",
    ]
    assert {g[1] for g in capture.got} == {"compute.h2", "nova-conductor:h2"}


async def test_no_driver_means_off_and_no_transport(bus_url: str) -> None:
    emitter = Notifications.from_settings(
        NotificationsOpts(notification_format="both"),
        OsloMessagingNotificationsOpts(driver=[]),
        rpc_transport_url=bus_url,
        host="h",
    )
    assert emitter._transport is None
    assert not emitter.legacy_enabled and not emitter.versioned_enabled
    emitter.notify_about_instance_usage(CTXT, make_instance(), "create.start")
    emitter.notify_about_instance_action(CTXT, make_instance(), "reboot", "start")
    assert len(emitter._sender) == 0
    await emitter.stop()


def test_unknown_driver_is_refused_at_startup(bus_url: str) -> None:
    with pytest.raises(rpc.DriverLoadFailure, match="'kafka'"):
        Notifications.from_settings(
            NotificationsOpts(),
            OsloMessagingNotificationsOpts(driver=["kafka"]),
            rpc_transport_url=bus_url,
            host="h",
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_a_dead_broker_never_blocks_and_drops_with_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retry forever (-1) on a broker that is not there: calls return at once, the
    queue bounds what waits, the rest is dropped (logged), stop() keeps its bound."""
    url = f"rabbit://guest:guest@127.0.0.1:{_free_port()}/?connect_timeout=1"
    emitter = Notifications.from_settings(
        NotificationsOpts(notification_format="both"),
        OsloMessagingNotificationsOpts(retry=-1),
        rpc_transport_url=url,
        host="h",
        queue_size=3,
    )
    for _ in range(5):  # 10 notifications: 3 wait, 7 dropped
        emitter.notify_about_instance_usage(CTXT, make_instance(), "create.start")
        emitter.notify_about_instance_create(CTXT, make_instance(), "start")
    assert emitter.dropped == 7
    assert any("queue full" in r.getMessage() for r in caplog.records)
    async with asyncio.timeout(10):
        await emitter.stop(timeout=0.5)
    assert emitter.sent == 0
    assert any("not sent at stop" in r.getMessage() for r in caplog.records)
    emitter.notify_about_instance_usage(CTXT, make_instance(), "create.end")  # after stop: dropped


async def test_a_payload_that_cannot_be_built_is_logged(
    bus_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = make_instance(metadata=None)  # dict(None) fails while building
    async with rpc.get_notification_transport(bus_url) as transport:
        emitter = Notifications(
            transport, host="h", notifications=NotificationsOpts(notification_format="both")
        )
        caplog.set_level(logging.ERROR)
        emitter.notify_about_instance_usage(CTXT, broken, "create.start")
        emitter.notify_about_instance_action(CTXT, broken, "reboot", "start")
        await emitter.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("compute.instance.create.start" in m for m in messages)
    assert any("instance.reboot.start" in m for m in messages)


async def test_instance_update_follows_notify_on_state_change(bus_url: str) -> None:
    url = with_control_exchange(bus_url)
    capture = Capture()
    async with rpc.get_notification_transport(url) as transport:
        targets = [rpc.Target(topic="versioned_notifications")]
        async with rpc.get_notification_listener(transport, targets, [capture]):
            for mode in (None, "vm_state", "vm_and_task_state"):
                emitter = Notifications(
                    transport,
                    host="h",
                    notifications=NotificationsOpts(
                        notification_format="versioned", notify_on_state_change=mode
                    ),
                )
                instance = make_instance(task_state="rebooting")
                emitter.notify_about_instance_update(  # a task state change only
                    CTXT, instance, old_vm_state="active", old_task_state=None
                )
                emitter.notify_about_instance_update(  # a vm state change
                    CTXT, instance, old_vm_state="building", old_task_state="spawning"
                )
                await emitter.stop()
            await capture.wait(4)
    states = [g[3]["nova_object.data"]["state_update"]["nova_object.data"] for g in capture.got]
    # None: nothing; then every save is notified (Nova's send_update), as a transition
    # when the mode's states changed, else with the current states as old and new
    assert [(s["old_state"], s["old_task_state"]) for s in states] == [
        ("active", "rebooting"),  # vm_state mode: a task change is no transition
        ("building", "spawning"),
        ("active", None),  # vm_and_task_state mode: it is
        ("building", "spawning"),
    ]
    assert all(s["state"] == "active" and s["new_task_state"] == "rebooting" for s in states)
