"""The control plane's notification settings (Nova's names), service.update, and
notifications that never stand in an operation's way."""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import pytest

from aionova import config as config_mod
from aionova import rpc
from aionova.cmd.main import main
from aionova.compute.manager import ComputeManager
from aionova.context import RequestContext
from aionova.notifications import OsloMessagingNotificationsOpts
from aionova.notifications.settings import NotificationDriverName
from aionova.states import vm_states
from aionova.virt.fake import FakeDriver
from tests.aionova.conftest import IMAGE, MakeCloud, boot, fast_config, wait_state
from tests.aionova.functional.test_evacuate import ADMIN, force_down
from tests.aionova.notifying import (
    BOOT,
    REBOOT,
    Events,
    expected,
    listening,
    steady_config,
    wait_moved,
    with_notifications,
)


def test_settings_have_novas_names_and_defaults() -> None:
    cfg = config_mod.Config()
    assert cfg.notifications.notification_format == "unversioned"
    assert cfg.notifications.versioned_notifications_topics == ["versioned_notifications"]
    assert cfg.oslo_messaging_notifications.driver == ["messagingv2"]
    assert cfg.oslo_messaging_notifications.topics == ["notifications"]
    assert cfg.oslo_messaging_notifications.transport_url is None
    assert cfg.DEFAULT.control_exchange == "nova"
    assert cfg.rpc_transport_url() == "memory://aionova?control_exchange=nova"
    own = cfg.with_default(transport_url="rabbit://h/?control_exchange=mine")
    assert own.rpc_transport_url() == "rabbit://h/?control_exchange=mine"


def test_settings_from_toml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "aionova.toml"
    path.write_text(
        '[DEFAULT]\ncontrol_exchange = "cloud1"\n'
        '[notifications]\nnotification_format = "both"\n'
        'versioned_notifications_topics = ["v1", "v2"]\n'
        '[oslo_messaging_notifications]\ndriver = ["messaging", "log"]\n'
        'topics = ["billing"]\ntransport_url = "rabbit://n:p@other:5672/"\n'
    )
    cfg = config_mod.load(path, env={})
    assert cfg.notifications.notification_format == "both"
    assert cfg.notifications.versioned_notifications_topics == ["v1", "v2"]
    messaging = cfg.oslo_messaging_notifications
    assert messaging.driver == ["messaging", "log"] and messaging.topics == ["billing"]
    assert messaging.transport_url == "rabbit://n:p@other:5672/"
    assert cfg.DEFAULT.control_exchange == "cloud1"
    env = {
        "AIONOVA_OSLO_MESSAGING_NOTIFICATIONS__DRIVER": "",
        "AIONOVA_NOTIFICATIONS__NOTIFICATION_FORMAT": "versioned",
        "AIONOVA_OSLO_MESSAGING_NOTIFICATIONS__TOPICS": "a, b",
    }
    cfg = config_mod.load(path, env=env)
    assert cfg.oslo_messaging_notifications.driver == []  # empty: notifications off
    assert cfg.oslo_messaging_notifications.topics == ["a", "b"]
    assert cfg.notifications.notification_format == "versioned"


def test_driver_names_are_the_notifiers() -> None:
    """The names the settings accept are exactly those aionova.rpc.Notifier loads."""
    names = list(NotificationDriverName.__args__)  # type: ignore[attr-defined]
    transport = rpc.get_notification_transport("memory://driver-names")
    assert rpc.Notifier(transport, driver=names).driver_names == names
    with pytest.raises(rpc.DriverLoadFailure):
        rpc.Notifier(transport, driver=["routing-not-here"])


def test_unknown_driver_is_a_configuration_error_at_startup(tmp_path: Path) -> None:
    path = tmp_path / "aionova.toml"
    path.write_text('[oslo_messaging_notifications]\ndriver = ["messagingv2", "kafka"]\n')
    with pytest.raises(msgspec.ValidationError, match=r"oslo_messaging_notifications\.driver"):
        config_mod.load(path, env={})
    for command in (["conductor"], ["compute", "--host", "c1"], ["all-in-one"]):
        with pytest.raises(SystemExit) as stopped:
            main([*command, "--config", str(path), "--database", str(tmp_path / "n.sqlite")])
        message = str(stopped.value.code)
        assert message.startswith("aionova: bad configuration:") and "kafka" in message
    # Settings built in code are checked when the service is built, before it starts.
    bad = msgspec.structs.replace(
        steady_config(),
        oslo_messaging_notifications=OsloMessagingNotificationsOpts(driver=["kafka"]),  # type: ignore[list-item]
    )
    transport = rpc.get_rpc_transport("memory://bad-driver")
    with pytest.raises(rpc.DriverLoadFailure, match="kafka"):
        ComputeManager("c1", bad, transport, FakeDriver())


async def test_no_driver_no_notifications(make_cloud: MakeCloud, ctxt: RequestContext) -> None:
    """``driver = []``: nothing at all is sent, in any format."""
    cloud = await make_cloud(with_notifications(steady_config(), "both", driver=[]))
    await cloud.add_compute("cmp1")
    assert cloud.api is not None
    async with listening(cloud.url) as events:
        (inst,) = await boot(cloud, ctxt)
        await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "HARD")
        await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
        await force_down(cloud, "cmp1")
        # A marker sent after everything: when it arrives, anything sent before it has too.
        async with rpc.get_notification_transport(cloud.url) as transport:
            await rpc.Notifier(transport, publisher_id="test").info({}, "marker", {})
        await events.wait(lambda: bool(events.seen))
    assert [s.event_type for s in events.seen] == ["marker"]


async def test_control_exchange_and_own_transport(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    """``control_exchange`` moves RPC and notifications; ``transport_url`` sends the
    notifications to another broker (here another bus)."""
    config = with_notifications(steady_config(), "unversioned")
    config = config.with_default(control_exchange="cloud7")
    cloud = await make_cloud(config)
    assert "control_exchange=cloud7" in cloud.url
    await cloud.add_compute("cmp1")
    async with listening(cloud.url, exchange="cloud7") as events:
        (inst,) = await boot(cloud, ctxt)
        await events.wait_for_types(inst.uuid, expected("unversioned", BOOT))
    other = "memory://notify-elsewhere"
    config = with_notifications(steady_config(), "versioned", transport_url=other)
    cloud = await make_cloud(config)
    await cloud.add_compute("cmp1")
    async with listening(other) as elsewhere, listening(cloud.url) as here:
        (inst,) = await boot(cloud, ctxt)
        seen = await elsewhere.wait_for_types(inst.uuid, expected("versioned", BOOT))
        assert [s.publisher for s in seen] == ["nova-compute:cmp1"] * 2
        assert here.of(inst.uuid) == []


async def test_dead_notification_broker_never_stops_an_operation(
    make_cloud: MakeCloud, ctxt: RequestContext, caplog: pytest.LogCaptureFixture
) -> None:
    """Notifications for a broker nobody answers at: boot, reboot and evacuation still
    complete; the notifications wait in their bounded queues (then are given up)."""
    dead = "rabbit://guest:guest@127.0.0.1:1/"
    cloud = await make_cloud(with_notifications(steady_config(), "both", transport_url=dead))
    await cloud.add_compute("cmp1")
    await cloud.add_compute("cmp2")
    api = cloud.api
    assert api is not None
    (inst,) = await boot(cloud, ctxt, host="cmp1")
    await api.reboot(ctxt, await api.get(ctxt, inst.uuid), "SOFT")
    await wait_state(cloud, inst.uuid, vm_states.ACTIVE)
    await force_down(cloud, "cmp1")
    await api.evacuate(ADMIN, await api.get(ADMIN, inst.uuid))
    await wait_moved(cloud, inst.uuid, "cmp2")
    emitters = [s.manager.notifier.emitter for s in cloud.computes.values()]
    assert sum(e.sent for e in emitters) == 0  # none got through
    with caplog.at_level(logging.WARNING):
        for service in [*cloud.computes.values(), cloud.conductor, cloud.scheduler]:
            assert service is not None
            await service.manager.notifier.stop(timeout=0.2)  # give up the queued ones
        await api.notifier.stop(timeout=0.2)
    assert "not sent at stop" in caplog.text


def service_updates(events: Events, host: str, since: int = 0) -> list[dict]:
    """The ServiceStatusPayload data of ``service.update`` from ``nova-compute:<host>``."""
    return [
        s.payload["nova_object.data"]
        for s in events.seen[since:]
        if s.event_type == "service.update" and s.publisher == f"nova-compute:{host}"
    ]


async def test_service_update_on_force_down(make_cloud: MakeCloud, ctxt: RequestContext) -> None:
    """``service.update`` (versioned, as the service it is about) when an operator forces
    a compute down, and up again."""
    cloud = await make_cloud(with_notifications(steady_config(), "versioned"))
    await cloud.add_compute("cmp1")
    async with listening(cloud.url) as events:
        await force_down(cloud, "cmp1")
        await events.wait(lambda: any(u["forced_down"] for u in service_updates(events, "cmp1")))
        mark = len(events.seen)
        await force_down(cloud, "cmp1", down=False)
        await events.wait(lambda: bool(service_updates(events, "cmp1", mark)))
        assert service_updates(events, "cmp1", mark)[0]["forced_down"] is False
    payload = next(s.payload for s in events.seen if s.event_type == "service.update")
    assert payload["nova_object.name"] == "ServiceStatusPayload"
    assert payload["nova_object.data"]["binary"] == "nova-compute"
    assert not [s for s in events.seen if s.event_type == "service.create"]  # made before


async def test_service_update_when_heartbeats_stop_and_resume(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    """``service.update`` when a compute's heartbeats stop (it is down for the
    servicegroup after ``service_down_time``) and when they come back."""
    cloud = await make_cloud(with_notifications(fast_config(), "versioned"))
    await cloud.add_compute("cmp2")
    async with listening(cloud.url) as events:
        mark = len(events.seen)
        await cloud.computes.pop("cmp2").kill()  # heartbeats stop
        await events.wait(lambda: bool(service_updates(events, "cmp2", mark)))
        down = service_updates(events, "cmp2", mark)[0]
        assert down["forced_down"] is False and down["host"] == "cmp2"
        mark = len(events.seen)
        await cloud.add_compute("cmp2")  # and come back
        await events.wait(lambda: bool(service_updates(events, "cmp2", mark)))
        assert service_updates(events, "cmp2", mark)[0]["report_count"] > down["report_count"]


async def test_service_create_and_reboot_in_unversioned(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    """A new service is announced (versioned ``service.create``); the unversioned format
    has no service events but all the instance ones."""
    cloud = await make_cloud(with_notifications(steady_config(), "both"))
    async with listening(cloud.url) as events:
        await cloud.add_compute("cmp9")
        await events.wait(lambda: any(s.event_type == "service.create" for s in events.seen))
        (inst,) = await boot(cloud, ctxt)
        assert cloud.api is not None
        await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "SOFT")
        await events.wait_for_types(inst.uuid, expected("both", BOOT + REBOOT))
    created = next(s for s in events.seen if s.event_type == "service.create")
    assert created.publisher == "nova-compute:cmp9"
    assert created.payload["nova_object.data"]["binary"] == "nova-compute"
    assert IMAGE.id in str(events.of(inst.uuid)[0].payload)


async def test_instance_update_when_notify_on_state_change(
    make_cloud: MakeCloud, ctxt: RequestContext
) -> None:
    """``notify_on_state_change = "vm_and_task_state"``: every save of the instance,
    wherever it is made (API, or a compute through the conductor), is an
    ``instance.update`` with its transition, published as nova-compute on the host
    that wrote it (Nova's send_update); by default (None) there is none."""
    config = with_notifications(steady_config(), "both")
    opts = msgspec.structs.replace(config.notifications, notify_on_state_change="vm_and_task_state")
    cloud = await make_cloud(msgspec.structs.replace(config, notifications=opts))
    await cloud.add_compute("cmp1")
    assert cloud.api is not None
    async with listening(cloud.url) as events:
        (inst,) = await boot(cloud, ctxt)
        await cloud.api.reboot(ctxt, await cloud.api.get(ctxt, inst.uuid), "SOFT")
        await events.wait_for_types(inst.uuid, expected("both", BOOT + REBOOT))

        def updates() -> list[dict]:
            return [
                s.payload["nova_object.data"]["state_update"]["nova_object.data"]
                for s in events.of(inst.uuid)
                if s.event_type == "instance.update"
            ]

        await events.wait(lambda: updates()[-1]["old_task_state"] == "reboot_started")
    transitions = [(u["old_task_state"], u["new_task_state"]) for u in updates()]
    assert transitions[:6] == [
        ("scheduling", None),  # the compute starts the build
        (None, None),  # the claim writes host and node: a save with no transition
        (None, "networking"),
        ("networking", "block_device_mapping"),
        ("block_device_mapping", "spawning"),
        ("spawning", None),
    ]
    assert transitions[6:] == [  # the API, then the compute
        (None, "rebooting"),
        ("rebooting", "reboot_pending"),
        ("reboot_pending", "reboot_started"),
        ("reboot_started", None),
    ]
    legacy = [s for s in events.of(inst.uuid) if s.event_type == "compute.instance.update"]
    assert len(legacy) == len(transitions)
    assert {s.publisher for s in legacy} == {"compute.control"}
    versioned = [s for s in events.of(inst.uuid) if s.event_type == "instance.update"]
    assert {s.publisher for s in versioned} == {"nova-compute:control"}
    assert legacy[-1].payload["old_task_state"] == "reboot_started"
    assert legacy[-1].payload["state"] == "active" and legacy[-1].payload["new_task_state"] is None


def test_the_readme_settings_load(tmp_path: Path) -> None:
    """The README's notification settings are real settings."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    block = readme.split("```toml\n[DEFAULT]\ncontrol_exchange", 1)[1].split("```", 1)[0]
    path = tmp_path / "readme.toml"
    path.write_text("[DEFAULT]\ncontrol_exchange" + block)
    cfg = config_mod.load(path, env={})
    assert cfg.DEFAULT.control_exchange == "nova"
    assert cfg.notifications.notify_on_state_change == "vm_and_task_state"
    assert cfg.oslo_messaging_notifications.driver == ["messagingv2"]
