"""Malformed notifications are logged and acknowledged; the listener keeps consuming."""

from __future__ import annotations

import asyncio
import logging

import msgspec
import pytest

from aionova import rpc
from tests.notify.helpers import Recorder, queue_depth


def envelope(message: object) -> bytes:
    return msgspec.json.encode(
        {"oslo.version": "2.0", "oslo.message": msgspec.json.encode(message).decode()}
    )


GOOD = {
    "message_id": "7c2b1d39-5d0e-4bde-9d5c-0f8d8b0b4c51",
    "publisher_id": "compute.h1",
    "event_type": "compute.instance.create.end",
    "priority": "INFO",
    "payload": {"state": "active"},
    "timestamp": "2026-11-30 16:00:00.123456",
}

BAD = {
    "not JSON": b"\xff{not json",
    "no envelope, not an object": b"[1, 2, 3]",
    "envelope without oslo.message": b'{"oslo.version": "2.0"}',
    "envelope of another version": b'{"oslo.version": "3.0", "oslo.message": "{}"}',
    "envelope around non-JSON": b'{"oslo.version": "2.0", "oslo.message": "{nope"}',
    "missing event_type": envelope({k: v for k, v in GOOD.items() if k != "event_type"}),
    "empty event_type": envelope({**GOOD, "event_type": ""}),
    "missing priority": envelope({k: v for k, v in GOOD.items() if k != "priority"}),
    "unknown priority": envelope({**GOOD, "priority": "LOUD"}),
    "priority not a string": envelope({**GOOD, "priority": 3}),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_malformed_is_logged_acked_and_skipped(
    case: str, url: str, transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    driver = transport._driver
    key = rpc.Target(topic=f"{topic}.info")
    lst = rpc.get_notification_listener(transport, [rpc.Target(topic=topic)], [rec])
    caplog.set_level(logging.ERROR)
    async with lst:
        await driver.notify(key, BAD[case])  # type: ignore[attr-defined]
        await driver.notify(key, envelope(GOOD))  # type: ignore[attr-defined]
        await rec.wait_for(1)
    assert rec.events == ["compute.instance.create.end"]
    assert await queue_depth(url, transport, f"{topic}.info") == 0  # acknowledged, not requeued
    assert any("malformed notification" in r.getMessage() for r in caplog.records)


async def test_v1_body_without_envelope_is_accepted(transport: rpc.Transport, topic: str) -> None:
    """Format 1.0 (the ``messaging`` driver) has no envelope: that is not malformed."""
    rec = Recorder()
    lst = rpc.get_notification_listener(transport, [rpc.Target(topic=topic)], [rec])
    async with lst:
        body = msgspec.json.encode({**GOOD, "_context_user": "u", "_unique_id": "ab" * 16})
        await transport._driver.notify(rpc.Target(topic=f"{topic}.info"), body)  # type: ignore[attr-defined]
        seen = await rec.wait_for(1)
    assert seen[0][1] == {"user": "u"}
    assert seen[0][4] == {"state": "active"}
    assert seen[0][5] == {"message_id": GOOD["message_id"], "timestamp": GOOD["timestamp"]}


async def test_priority_not_taken_by_any_endpoint_is_acked(
    url: str, transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An ERROR body on the info queue: no endpoint has ``error``; logged, acknowledged."""

    class InfoOnly:
        def __init__(self) -> None:
            self.events: list[str] = []

        def info(self, ctxt: object, pub: object, event_type: str, *rest: object) -> None:
            self.events.append(event_type)

    endpoint = InfoOnly()
    lst = rpc.get_notification_listener(transport, [rpc.Target(topic=topic)], [endpoint])
    caplog.set_level(logging.WARNING)
    key = rpc.Target(topic=f"{topic}.info")
    async with lst:
        await transport._driver.notify(key, envelope({**GOOD, "priority": "ERROR"}))  # type: ignore[attr-defined]
        await transport._driver.notify(key, envelope(GOOD))  # type: ignore[attr-defined]
        async with asyncio.timeout(10):
            while not endpoint.events:
                await asyncio.sleep(0.01)
    assert endpoint.events == ["compute.instance.create.end"]
    assert await queue_depth(url, transport, f"{topic}.info") == 0
    assert any("No endpoint takes error" in r.getMessage() for r in caplog.records)
