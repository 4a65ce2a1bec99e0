"""Notification listeners on both drivers: dispatch, pools, filters, requeue, batches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aionova import rpc
from tests.notify.helpers import PlainInfo, Recorder, new_pool, queue_depth


def listener(transport: rpc.Transport, topic: str, endpoints: list[Any], **kw: Any) -> Any:
    return rpc.get_notification_listener(transport, [rpc.Target(topic=topic)], endpoints, **kw)


async def test_each_priority_reaches_its_method(transport: rpc.Transport, topic: str) -> None:
    notifier = rpc.Notifier(transport, "compute.h1", topics=[topic])
    rec = Recorder()
    async with listener(transport, topic, [rec]):
        for method in ("audit", "debug", "info", "warn", "error", "critical", "sample"):
            await getattr(notifier, method)({"user": "u"}, f"ev.{method}", {"m": method})
        await rec.wait_for(7)
    got = {s[0]: s for s in rec.seen}
    assert set(got) == {"audit", "debug", "info", "warn", "error", "critical", "sample"}
    _, ctxt, publisher, event, payload, metadata = got["warn"]
    assert (ctxt, publisher, event, payload) == (
        {"user": "u"},
        "compute.h1",
        "ev.warn",
        {"m": "warn"},
    )
    assert set(metadata) == {"message_id", "timestamp"}


async def test_plain_endpoint_and_only_its_priorities(
    url: str, transport: rpc.Transport, topic: str
) -> None:
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    plain = PlainInfo()
    async with listener(transport, topic, [plain]):
        await notifier.error({}, "ev.error", {})
        await notifier.info({}, "ev.info", {"a": 1})
        async with asyncio.timeout(10):
            while not plain.seen:
                await asyncio.sleep(0.01)
    assert [s[2] for s in plain.seen] == ["ev.info"]
    # nobody listens on <topic>.error: the notification waits in its queue
    assert await queue_depth(url, transport, f"{topic}.error") == 1


async def test_notifications_wait_for_their_consumer(transport: rpc.Transport, topic: str) -> None:
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    for n in range(3):
        await notifier.info({}, "ev.early", {"n": n})
    rec = Recorder()
    async with listener(transport, topic, [rec]):
        await rec.wait_for(3)
    assert sorted(s[4]["n"] for s in rec.seen) == [0, 1, 2]


async def test_pool_less_listeners_share_pools_each_get_all(
    transport: rpc.Transport, topic: str, pools: list[str]
) -> None:
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    shared_a, shared_b, pool_1a, pool_1b, pool_2 = (Recorder() for _ in range(5))
    p1, p2 = new_pool(pools), new_pool(pools)
    listeners = [
        listener(transport, topic, [shared_a]),
        listener(transport, topic, [shared_b]),
        listener(transport, topic, [pool_1a], pool=p1),
        listener(transport, topic, [pool_1b], pool=p1),
        listener(transport, topic, [pool_2], pool=p2),
    ]
    for lst in listeners:
        await lst.start()
    try:
        for n in range(20):
            await notifier.info({}, "ev", {"n": n})
        async with asyncio.timeout(15):
            while len(shared_a.seen) + len(shared_b.seen) < 20:
                await asyncio.sleep(0.02)
            while len(pool_1a.seen) + len(pool_1b.seen) < 20:
                await asyncio.sleep(0.02)
        await pool_2.wait_for(20)
    finally:
        for lst in listeners:
            await lst.stop()
            await lst.wait(10)

    def numbers(*recs: Recorder) -> list[int]:
        return sorted(s[4]["n"] for r in recs for s in r.seen)

    assert numbers(shared_a, shared_b) == list(range(20))  # each once, split
    assert shared_a.seen and shared_b.seen
    assert numbers(pool_1a, pool_1b) == list(range(20))
    assert numbers(pool_2) == list(range(20))


async def test_filter_rule_selects(transport: rpc.Transport, topic: str) -> None:
    picky = Recorder(
        filter_rule=rpc.NotificationFilter(
            publisher_id="^compute",
            event_type=r"compute\.instance\..*\.end$",
            context={"project_id": "^p1$"},
            payload={"state": "^active$", "nova_object.data": {"host": "^h"}},
            metadata={"message_id": "^[0-9a-f-]{36}$"},
        )
    )
    everyone = Recorder()
    notifier = rpc.Notifier(transport, "compute.h1", topics=[topic])
    good = {"state": "active", "nova_object.data": {"host": "h1"}}
    async with listener(transport, topic, [picky, everyone]):
        await notifier.info({"project_id": "p1"}, "compute.instance.create.end", good)
        await notifier.info({"project_id": "p2"}, "compute.instance.create.end", good)
        await notifier.info({"project_id": "p1"}, "compute.instance.create.start", good)
        await notifier.info({"project_id": "p1"}, "compute.instance.reboot.end", {"state": 1})
        await notifier.prepare(publisher_id="api.h1").info(
            {"project_id": "p1"}, "compute.instance.x.end", good
        )
        await notifier.info({"project_id": "p1"}, "compute.instance.last.end", good)
        await everyone.wait_for(6)
    assert picky.events == ["compute.instance.create.end", "compute.instance.last.end"]


def test_filter_refuses_catastrophic_patterns_and_bounds_values() -> None:
    for bad in ("^(a+)+$", r"(\w+\.)*end", "(x|y*)*", "(?=(a*)*)b"):
        with pytest.raises(ValueError, match="catastrophic"):
            rpc.NotificationFilter(event_type=bad)
    with pytest.raises(ValueError, match="catastrophic"):
        rpc.NotificationFilter(payload={"nova_object.data": {"state": "(a*)+"}})
    flt = rpc.NotificationFilter(event_type=r"^[\w.]*end$", payload={"name": "^vm"})
    assert flt.match({}, None, "compute.instance.create.end", {}, {"name": "vm1"})
    assert not flt.match({}, None, "x" * 5000 + ".end", {}, {"name": "vm1"})  # too long
    assert not flt.match({}, None, None, {}, {"name": "vm1"})  # not a string
    assert not flt.match({}, None, "a.end", {}, "vm1")  # payload not a dict
    assert not flt.match({}, None, "a.end", {}, {"other": "vm"})  # key missing
    with pytest.raises(TypeError):
        rpc.NotificationFilter(payload="^x")  # type: ignore[arg-type]


async def test_requeue_when_allowed(transport: rpc.Transport, topic: str) -> None:
    calls: dict[str, int] = {}

    def answer(event_type: str, payload: Any) -> Any:
        calls[event_type] = calls.get(event_type, 0) + 1
        if calls[event_type] == 1 and event_type == "ev.requeue":
            return rpc.NotificationResult.REQUEUE
        if calls[event_type] == 1 and event_type == "ev.raise":
            raise RuntimeError("transient")
        return rpc.NotificationResult.HANDLED

    rec = Recorder(answer)
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    async with listener(transport, topic, [rec], allow_requeue=True):
        await notifier.info({}, "ev.requeue", {})
        await notifier.info({}, "ev.raise", {})
        await rec.wait_for(4)
    assert calls == {"ev.requeue": 2, "ev.raise": 2}


async def test_no_requeue_without_allow_requeue(
    url: str, transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    def answer(event_type: str, payload: Any) -> Any:
        if event_type == "ev.requeue":
            return rpc.NotificationResult.REQUEUE
        if event_type == "ev.raise":
            raise RuntimeError("endpoint broke")
        return None

    rec = Recorder(answer)
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    lst = listener(transport, topic, [rec], max_concurrency=1)
    async with lst:
        await notifier.info({}, "ev.requeue", {})
        await notifier.info({}, "ev.raise", {})
        await notifier.info({}, "ev.last", {})
        await rec.wait_for(3)
    assert rec.events == ["ev.requeue", "ev.raise", "ev.last"]
    assert await queue_depth(url, transport, f"{topic}.info") == 0
    assert any("endpoint broke" in str(r.exc_info) for r in caplog.records if r.exc_info)


async def test_stop_then_wait_finishes_what_was_received(
    url: str, transport: rpc.Transport, topic: str
) -> None:
    started = asyncio.Event()
    finish = asyncio.Event()
    done: list[str] = []

    class Slow:
        async def info(self, ctxt: Any, pub: Any, event_type: str, payload: Any, md: Any) -> None:
            started.set()
            await finish.wait()
            done.append(event_type)

    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    lst = listener(transport, topic, [Slow()])
    await lst.start()
    await notifier.info({}, "ev.slow", {})
    async with asyncio.timeout(10):
        await started.wait()
    await lst.stop()
    assert not lst.running
    waiting = asyncio.create_task(lst.wait(10))
    await asyncio.sleep(0)
    assert not waiting.done()
    finish.set()
    await waiting
    assert done == ["ev.slow"]
    assert await queue_depth(url, transport, f"{topic}.info") == 0


async def test_batches_by_size_and_by_timeout(transport: rpc.Transport, topic: str) -> None:
    batches: list[list[str]] = []
    arrived = asyncio.Event()

    class Batch:
        def info(self, messages: list[dict[str, Any]]) -> None:
            batches.append([m["event_type"] for m in messages])
            assert set(messages[0]) == {"ctxt", "publisher_id", "event_type", "payload", "metadata"}
            arrived.set()

    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    lst = rpc.get_batch_notification_listener(
        transport, [rpc.Target(topic=topic)], [Batch()], batch_size=3, batch_timeout=0.3
    )
    async with lst:
        for n in range(5):
            await notifier.info({}, f"ev.{n}", {})
        async with asyncio.timeout(10):
            while sum(map(len, batches)) < 5:
                arrived.clear()
                await arrived.wait()
    assert batches == [["ev.0", "ev.1", "ev.2"], ["ev.3", "ev.4"]]


async def test_batch_requeue_groups_by_priority(transport: rpc.Transport, topic: str) -> None:
    seen: list[tuple[str, list[str]]] = []
    changed = asyncio.Event()

    class Batch:
        def info(self, messages: list[dict[str, Any]]) -> Any:
            seen.append(("info", [m["event_type"] for m in messages]))
            changed.set()
            if len(seen) == 1:
                return rpc.NotificationResult.REQUEUE
            return None

        def error(self, messages: list[dict[str, Any]]) -> None:
            seen.append(("error", [m["event_type"] for m in messages]))
            changed.set()

    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    lst = rpc.get_batch_notification_listener(
        transport,
        [rpc.Target(topic=topic)],
        [Batch()],
        allow_requeue=True,
        batch_size=2,
        batch_timeout=0.2,
    )
    async with lst:
        await notifier.info({}, "ev.i", {})
        await notifier.error({}, "ev.e", {})
        async with asyncio.timeout(10):
            while len(seen) < 3:
                changed.clear()
                await changed.wait()
    assert seen[0] == ("info", ["ev.i"]) and ("error", ["ev.e"]) in seen
    assert ("info", ["ev.i"]) in seen[1:]  # requeued, then handled


def test_bad_listener_arguments(bus_url: str) -> None:
    transport = rpc.get_notification_transport(bus_url)
    with pytest.raises(rpc.InvalidTarget):
        rpc.get_notification_listener(transport, [rpc.Target()], [Recorder()])
    with pytest.raises(rpc.InvalidTarget):
        rpc.get_notification_listener(transport, [], [Recorder()])
    with pytest.raises(ValueError, match="no endpoint has a method"):
        rpc.get_notification_listener(transport, [rpc.Target(topic="t")], [object()])

    class BadFilter:
        filter_rule = {"event_type": "x"}

        def info(self, *args: Any) -> None: ...

    with pytest.raises(TypeError, match="NotificationFilter"):
        rpc.get_notification_listener(transport, [rpc.Target(topic="t")], [BadFilter()])
    with pytest.raises(TypeError, match="no executor parameter"):
        rpc.get_notification_listener(transport, [rpc.Target(topic="t")], [Recorder()], "threading")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        rpc.get_batch_notification_listener(
            transport, [rpc.Target(topic="t")], [Recorder()], batch_size=0
        )


async def test_transient_pool_goes_away(
    url: str, transport: rpc.Transport, topic: str, pools: list[str]
) -> None:
    pool = new_pool(pools)
    rec = Recorder()
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    lst = listener(transport, topic, [rec], pool=pool, transient_pool=True)
    async with lst:
        await notifier.info({}, "ev", {})
        await rec.wait_for(1)
    if url.startswith("memory"):
        assert pool not in transport._driver.bus._queues  # type: ignore[attr-defined]
    else:
        with pytest.raises(Exception, match="NOT_FOUND"):
            await queue_depth(url, transport, pool)


async def test_abort_requeues_what_was_not_processed(
    url: str, transport: rpc.Transport, topic: str
) -> None:
    started = asyncio.Event()

    class Stuck:
        async def info(self, *args: Any) -> None:
            started.set()
            await asyncio.Event().wait()

    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    lst = listener(transport, topic, [Stuck()], max_concurrency=1)
    await lst.start()
    await notifier.info({}, "ev.a", {})
    await notifier.info({}, "ev.b", {})
    async with asyncio.timeout(10):
        await started.wait()
    await lst.abort()
    rec = Recorder()
    async with listener(transport, topic, [rec]):
        await rec.wait_for(2)
    assert sorted(rec.events) == ["ev.a", "ev.b"]


async def test_restart_before_wait_and_after(transport: rpc.Transport, topic: str) -> None:
    rec = Recorder()
    notifier = rpc.Notifier(transport, "pub", topics=[topic])
    lst = listener(transport, topic, [rec])
    await lst.start()
    await lst.stop()
    await lst.start()  # before wait(): the first subscription is closed by the next wait()
    await notifier.info({}, "ev.1", {})
    await rec.wait_for(1)
    await lst.stop()
    await lst.wait(10)
    await lst.start()  # after wait(): subscribes again
    await notifier.info({}, "ev.2", {})
    await rec.wait_for(2)
    await lst.stop()
    await lst.wait(10)
    assert rec.events == ["ev.1", "ev.2"]
