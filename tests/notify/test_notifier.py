"""Notifier: what goes on the wire, drivers by name, contexts redacted, errors swallowed."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import socket
import uuid
from typing import Any

import msgspec
import pytest
from oslo_context import context as oslo_context

from aionova import rpc
from tests.notify.helpers import raw_listener, unwrap

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


async def test_messagingv2_wire_format(transport: rpc.Transport, topic: str) -> None:
    notifier = rpc.Notifier(transport, "compute.host1", topics=[topic])
    async with raw_listener(transport, topic) as raw:
        before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        await notifier.info({"user": "u1", "request_id": "req-1"}, "compute.x.end", {"n": 1})
        await raw.wait(1)
    inner = unwrap(raw.bodies[0])
    assert list(inner)[:6] == [
        "message_id",
        "publisher_id",
        "event_type",
        "priority",
        "payload",
        "timestamp",
    ]
    assert uuid.UUID(inner["message_id"]).version == 4
    assert str(uuid.UUID(inner["message_id"])) == inner["message_id"]
    assert inner["publisher_id"] == "compute.host1"
    assert inner["event_type"] == "compute.x.end"
    assert inner["priority"] == "INFO"
    assert inner["payload"] == {"n": 1}
    assert TIMESTAMP.match(inner["timestamp"])
    sent = dt.datetime.strptime(inner["timestamp"], "%Y-%m-%d %H:%M:%S.%f")
    assert abs((sent - before).total_seconds()) < 60  # UTC, not local time
    assert re.fullmatch(r"[0-9a-f]{32}", inner["_unique_id"])
    assert inner["_context_user"] == "u1"
    assert inner["_context_request_id"] == "req-1"
    assert set(inner) == {
        *("message_id", "publisher_id", "event_type", "priority", "payload", "timestamp"),
        *("_unique_id", "_context_user", "_context_request_id"),
    }


@pytest.mark.parametrize(
    ("method", "priority"),
    [
        ("audit", "AUDIT"),
        ("debug", "DEBUG"),
        ("info", "INFO"),
        ("warn", "WARN"),
        ("warning", "WARN"),
        ("error", "ERROR"),
        ("critical", "CRITICAL"),
        ("sample", "SAMPLE"),
    ],
)
async def test_each_priority_goes_to_its_routing_key(
    transport: rpc.Transport, topic: str, method: str, priority: str
) -> None:
    notifier = rpc.Notifier(transport, "p", topics=[topic])
    async with raw_listener(transport, topic, (priority.lower(),)) as raw:
        await getattr(notifier, method)({}, f"ev.{method}", {})
        await raw.wait(1)
    assert unwrap(raw.bodies[0])["priority"] == priority


async def test_messaging_v1_sends_no_envelope(transport: rpc.Transport, topic: str) -> None:
    notifier = rpc.Notifier(transport, "pub", driver="messaging", topics=[topic])
    async with raw_listener(transport, topic, ("error",)) as raw:
        await notifier.error({"user": "u"}, "ev.error", [1, 2])
        await raw.wait(1)
    message = raw.decoded()
    assert "oslo.version" not in message and "oslo.message" not in message
    assert message["event_type"] == "ev.error"
    assert message["priority"] == "ERROR"
    assert message["payload"] == [1, 2]
    assert message["_context_user"] == "u"
    assert "_unique_id" in message


async def test_one_copy_per_topic_and_driver(
    transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    second = f"{topic}_b"
    notifier = rpc.Notifier(transport, "pub", driver=["messagingv2", "log"], topics=[topic, second])
    caplog.set_level(logging.INFO, logger="oslo.messaging.notification")
    async with (
        raw_listener(transport, topic, ("info",)) as a,
        raw_listener(transport, second, ("info",)) as b,
    ):
        await notifier.info({}, "ev.both", {"k": "v"})
        await a.wait(1)
        await b.wait(1)
    assert unwrap(a.bodies[0])["message_id"] == unwrap(b.bodies[0])["message_id"]
    records = [r for r in caplog.records if r.name == "oslo.messaging.notification.ev.both"]
    assert len(records) == 1 and records[0].levelno == logging.INFO
    if transport.url.startswith("rabbit"):
        from tests.notify.helpers import delete_queues

        await delete_queues(transport.url, [f"{second}.info"])


async def test_defaults_are_messagingv2_on_notifications(bus_url: str) -> None:
    async with rpc.get_notification_transport(bus_url) as transport:
        notifier = rpc.Notifier(transport)
        assert notifier.driver_names == ["messagingv2"]
        assert notifier.topics == ("notifications",)
        assert notifier.is_enabled()
        async with raw_listener(transport, "notifications", ("info",)) as raw:
            await notifier.info({}, "ev", None)
            await raw.wait(1)
        message = unwrap(raw.bodies[0])
        assert message["publisher_id"] is None


async def test_control_exchange_from_url_and_target(topic: str) -> None:
    name = uuid.uuid4().hex[:8]
    async with (
        rpc.get_notification_transport(f"memory://{name}?control_exchange=nova") as nova,
        rpc.get_notification_transport(f"memory://{name}") as plain,
    ):
        notifier = rpc.Notifier(nova, "pub", topics=[topic])
        # the default exchange (openstack) does not see it; exchange="nova" does
        async with raw_listener(plain, topic, ("info",), exchange="nova") as raw:
            await notifier.info({}, "ev", {})
            await raw.wait(1)
        stats = plain._driver.statistics()  # type: ignore[attr-defined]
        assert stats.unroutable == 0


async def test_contexts_travel_without_auth_token(transport: rpc.Transport, topic: str) -> None:
    class Redacting:
        def redacted_copy(self) -> dict[str, Any]:
            return {"user": "obj", "roles": ["a"]}

        def to_dict(self) -> dict[str, Any]:
            raise AssertionError("redacted_copy() must be used")

    class Plain:
        def to_dict(self) -> dict[str, Any]:
            return {"user": "plain", "auth_token": "s3cr3t"}

    oslo = oslo_context.RequestContext(user_id="oslo-user", auth_token="tok", request_id="req-o")
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    async with raw_listener(transport, topic, ("info",)) as raw:
        await notifier.info({"user": "d", "auth_token": "s3cr3t"}, "ev.dict", {})
        await notifier.info(Redacting(), "ev.redacting", {})
        await notifier.info(Plain(), "ev.plain", {})
        await notifier.info(oslo, "ev.oslo", {})
        await notifier.info(None, "ev.none", {})
        await raw.wait(5)
    by_event = {m["event_type"]: m for m in map(unwrap, raw.bodies)}
    for message in by_event.values():
        assert message.get("_context_auth_token") is None
        assert b"s3cr3t" not in msgspec.json.encode(message)
    assert "_context_auth_token" not in by_event["ev.dict"]
    assert by_event["ev.dict"]["_context_user"] == "d"
    assert by_event["ev.redacting"]["_context_user"] == "obj"
    assert by_event["ev.plain"]["_context_user"] == "plain"
    assert by_event["ev.oslo"]["_context_user"] == "oslo-user"
    assert by_event["ev.oslo"]["_context_request_id"] == "req-o"
    assert not any(k.startswith("_context_") for k in by_event["ev.none"])


async def test_prepare_shares_drivers(transport: rpc.Transport, topic: str) -> None:
    base = rpc.Notifier(transport, "compute.a", topics=[topic], retry=3)
    sub = base.prepare(publisher_id="compute.b")
    assert sub.publisher_id == "compute.b" and sub.retry == 3
    assert base.publisher_id == "compute.a"
    assert sub.prepare(retry=0).retry == 0
    assert sub._drivers is base._drivers
    async with raw_listener(transport, topic, ("info",)) as raw:
        await sub.info({}, "ev", {})
        await base.info({}, "ev", {})
        await raw.wait(2)
    assert sorted(unwrap(b)["publisher_id"] for b in raw.bodies) == ["compute.a", "compute.b"]


def test_unknown_driver_is_a_clear_configuration_error(bus_url: str) -> None:
    transport = rpc.get_notification_transport(bus_url)
    with pytest.raises(rpc.DriverLoadFailure, match=r"'kafka'.*known: log, messaging"):
        rpc.Notifier(transport, "pub", driver=["messagingv2", "kafka"])
    with pytest.raises(ValueError, match="unknown notification driver"):
        rpc.Notifier(transport, "pub", driver="routing-typo")


async def test_noop_and_empty_drivers_send_nothing(transport: rpc.Transport, topic: str) -> None:
    noop = rpc.Notifier(transport, "pub", driver="noop", topics=[topic])
    off = rpc.Notifier(transport, "pub", driver=[], topics=[topic])
    on = rpc.Notifier(transport, "pub", topics=[topic])
    assert not noop.is_enabled() and not off.is_enabled()
    async with raw_listener(transport, topic, ("info",)) as raw:
        await noop.info({}, "ev.noop", {})
        await off.info({}, "ev.off", {})
        await on.info({}, "ev.on", {})
        await raw.wait(1)
    assert [unwrap(b)["event_type"] for b in raw.bodies] == ["ev.on"]


async def test_log_driver_masks_secrets_and_warns_on_audit(
    bus_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    transport = rpc.get_notification_transport(bus_url)
    notifier = rpc.Notifier(transport, "pub", driver="log")
    caplog.set_level(logging.DEBUG, logger="oslo.messaging.notification")
    await notifier.error({}, "ev.secret", {"admin_password": "hunter2", "name": "vm"})
    record = next(r for r in caplog.records if r.name == "oslo.messaging.notification.ev.secret")
    assert record.levelno == logging.ERROR
    logged = msgspec.json.decode(record.getMessage())
    assert logged["payload"] == {"admin_password": "***", "name": "vm"}
    with pytest.warns(UserWarning, match="cannot log priority 'audit'"):
        await notifier.audit({}, "ev.audit", {})


async def test_unencodable_payload_is_logged_not_raised(
    transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    async with raw_listener(transport, topic, ("info",)) as raw:
        await notifier.info({}, "ev.bad", {"x": object()})
        await notifier.info({}, "ev.good", {})
        await raw.wait(1)
    assert [unwrap(b)["event_type"] for b in raw.bodies] == ["ev.good"]
    assert any("ev.bad" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("retry", [0, 1])
async def test_unreachable_broker_is_logged_and_dropped(
    retry: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A broker that does not answer costs ``retry`` + 1 attempts, then a logged drop."""
    url = f"rabbit://guest:guest@127.0.0.1:{_free_port()}/?connect_timeout=1&rabbit_retry_interval=0.1"
    async with rpc.get_notification_transport(url) as transport:
        notifier = rpc.Notifier(transport, "pub", retry=retry)
        async with asyncio.timeout(30):
            await notifier.info({}, "ev.lost", {"n": 1})
    failures = [
        r for r in caplog.records if "Could not send notification ev.lost" in r.getMessage()
    ]
    assert len(failures) == 1
    assert f"gave up after {retry + 1} attempt(s)" in failures[0].getMessage()


async def test_a_failing_driver_does_not_stop_the_others(
    transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = rpc.Notifier(transport, "pub", driver=["log", "messagingv2"], topics=[topic])

    class Broken:
        async def notify(self, *args: Any) -> None:
            raise RuntimeError("disk full")

    notifier._drivers["log"] = Broken()
    async with raw_listener(transport, topic, ("info",)) as raw:
        await notifier.info({}, "ev", {})
        await raw.wait(1)
    assert any("disk full" in r.getMessage() for r in caplog.records)
