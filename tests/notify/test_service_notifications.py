"""A service's notifications: both formats in one call, and hand-offs that keep an
instance's events in order across services without ever holding an operation up."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from aionova import rpc
from aionova.config import Config
from aionova.messaging import get_notifier
from aionova.notifications import Notifications, NotificationsOpts, OsloMessagingNotificationsOpts
from aionova.notifications.service import ServiceNotifications
from aionova.notifications.settings import with_control_exchange
from tests.notify.instances import CTXT, Capture, make_instance, raised


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"rabbit://guest:guest@127.0.0.1:{port}/?connect_timeout=1"


async def test_one_call_both_formats_and_the_exception_event(bus_url: str) -> None:
    url = with_control_exchange(bus_url)
    capture = Capture()
    async with rpc.get_notification_transport(url) as transport:
        notifier = ServiceNotifications(
            Notifications(
                transport, host="h1", notifications=NotificationsOpts(notification_format="both")
            )
        )
        targets = [rpc.Target(topic="notifications"), rpc.Target(topic="versioned_notifications")]
        async with rpc.get_notification_listener(transport, targets, [capture], max_concurrency=1):
            instance = make_instance()
            notifier.instance(CTXT, instance, "rebuild_scheduled", host="h2")
            notifier.usage_exists(CTXT, instance, image_ref_url="img-1")
            error = raised(ValueError("no"))
            args = {"instance": instance, "new_pass": "secret", "reboot_type": "HARD"}
            notifier.exception(CTXT, error, function_name="reboot_instance", args=args)
            await capture.wait(6)
            await notifier.stop()
    got = [(g[0], g[1], g[2]) for g in capture.got]
    assert got == [
        ("INFO", "compute.h1", "compute.instance.rebuild.scheduled"),
        ("INFO", "nova-compute:h2", "instance.rebuild_scheduled"),
        ("INFO", "compute.h1", "compute.instance.exists"),
        ("INFO", "nova-compute:h1", "instance.exists"),
        ("ERROR", "compute.h1", "reboot_instance"),
        ("ERROR", "nova-compute:h1", "compute.exception"),
    ]
    exists = capture.got[2][3]
    assert exists["image_ref_url"] == "img-1" and exists["audit_period_ending"]
    assert capture.got[3][3]["nova_object.name"] == "InstanceExistsPayload"
    legacy_error = capture.got[4][3]
    assert legacy_error["exception"] == "ValueError('no')"
    assert set(legacy_error["args"]) == {"instance", "reboot_type"}  # no *_pass argument
    assert legacy_error["args"]["instance"]["uuid"] == instance.uuid


async def test_handoff_waits_for_what_was_queued(bus_url: str) -> None:
    capture = Capture()
    url = with_control_exchange(bus_url)
    async with rpc.get_notification_transport(url) as transport:
        notifier = ServiceNotifications(Notifications(transport, host="h"))
        async with rpc.get_notification_listener(
            transport, [rpc.Target(topic="notifications")], [capture]
        ):
            for _ in range(20):
                notifier.instance(CTXT, make_instance(), "evacuate")
            await notifier.handoff()
            assert notifier.emitter.handled == 20 == notifier.emitter.sent
            await notifier.handoff()  # nothing queued: returns at once
            await capture.wait(20)
            await notifier.stop()


async def test_handoff_to_a_dead_broker_is_bounded_then_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emitter = Notifications.from_settings(
        NotificationsOpts(notification_format="both"),
        OsloMessagingNotificationsOpts(),
        rpc_transport_url=_dead_url(),
        host="h",
    )
    notifier = ServiceNotifications(emitter, handoff_timeout=0.3)
    caplog.set_level(logging.WARNING)
    notifier.instance(CTXT, make_instance(), "evacuate")
    started = time.monotonic()
    await notifier.handoff()
    assert 0.25 < time.monotonic() - started < 5
    assert "going on without them" in caplog.text
    notifier.instance(CTXT, make_instance(), "rebuild_scheduled")
    started = time.monotonic()
    await notifier.handoff()  # still behind: no second wait
    assert time.monotonic() - started < 0.1
    async with asyncio.timeout(10):
        await notifier.stop(timeout=0.2)
    assert emitter.sent == 0


async def test_get_notifier_uses_the_rpc_transport_unless_told(bus_url: str) -> None:
    config = Config()
    async with rpc.get_rpc_transport(bus_url) as transport:
        notifier = get_notifier(config, transport, host="h", binary="nova-compute")
        assert notifier.emitter._transport is transport and not notifier.emitter._owns_transport
        assert get_notifier(config, None, host="h", binary="nova-api").emitter._transport is None
    own = config.oslo_messaging_notifications.__class__(transport_url="memory://elsewhere")
    config = Config(oslo_messaging_notifications=own)
    notifier = get_notifier(config, None, host="h", binary="nova-compute")
    assert notifier.emitter._owns_transport
    await notifier.stop()


def test_image_ref_url_from_the_apis_public_url() -> None:
    from aionova.config import ApiOpts

    config = Config(api=ApiOpts(public_url="http://cloud:8774/"))
    notifier = get_notifier(config, None, host="h", binary="nova-compute")
    assert notifier.emitter.image_api_url == "http://cloud:8774/image"
    assert get_notifier(Config(), None, host="h", binary="x").emitter.image_api_url is None
