"""memory:// keeps at most a bounded number of notifications nobody consumes."""

from __future__ import annotations

import logging

import pytest
from aionova.drivers.memory import notify as memory_notify

from aionova import rpc
from tests.notify.instances import Capture


async def test_unconsumed_notifications_keep_the_newest(
    bus_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(memory_notify, "NOTIFICATION_QUEUE_LENGTH", 10)
    caplog.set_level(logging.WARNING)
    async with rpc.get_notification_transport(bus_url) as transport:
        notifier = rpc.Notifier(transport, publisher_id="p")
        for number in range(15):
            await notifier.info({}, f"event.{number}", {})
        stats = transport._driver.statistics()  # type: ignore[attr-defined]
        assert stats.pending == {"notifications.info": 10} and stats.overflowed == 5
        assert "is full" in caplog.text and "notifications.info" in caplog.text
        capture = Capture()
        targets = [rpc.Target(topic="notifications")]
        async with rpc.get_notification_listener(transport, targets, [capture]):
            await capture.wait(10)
    assert [g[2] for g in capture.got] == [f"event.{n}" for n in range(5, 15)]
