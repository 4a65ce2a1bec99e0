"""Conformance checks: where messages go, and what survives a server's absence.

Each check is ``async def check(h: Harness) -> None`` and raises
``AssertionError`` (or the error it met) when the driver misbehaves.
"""

from __future__ import annotations

import asyncio

from aionova.rpc._client import RPCClient
from aionova.rpc._target import Target
from aionova.rpc._transport import TransportOptions
from aionova.rpc.errors import MessageUndeliverable, MessagingTimeout
from aionova.rpc.testing._harness import Harness, expect_error
from aionova.rpc.testing._recording import (
    RecordingEndpoint,
    capture,
    request_body,
    send_raw,
    wait_for_total,
)

CTX = {"user": "u1", "project": "p1", "request_id": "req-1"}


async def cast_reaches_the_server(h: Harness) -> None:
    endpoint = RecordingEndpoint()
    await h.servers([endpoint])
    await RPCClient(h.transport, Target(topic=h.topic)).cast(CTX, "record", n=1)
    assert await endpoint.wait_for_calls(1) == [("record", {"n": 1})]


async def topic_messages_are_shared_by_the_group(h: Harness) -> None:
    """Competing consumers: calls and casts spread over the servers, each gets some."""
    changed = asyncio.Condition()
    endpoints = [RecordingEndpoint(f"s{i}", changed=changed) for i in range(3)]
    await h.servers(endpoints)
    client = RPCClient(h.transport, Target(topic=h.topic), timeout=10)
    answered = [await client.call(CTX, "record") for _ in range(30)]
    for _ in range(30):
        await client.cast(CTX, "record")
    await asyncio.gather(*(e.wait_for_calls(1) for e in endpoints))
    assert set(answered) <= {"s0", "s1", "s2"} and len(set(answered)) >= 2, answered
    await wait_for_total(endpoints, 60)
    counts = [len(e.calls) for e in endpoints]
    assert all(0 < count < 60 for count in counts), counts


async def server_directed_messages_reach_only_that_server(h: Harness) -> None:
    endpoints = [RecordingEndpoint(f"s{i}") for i in range(3)]
    await h.servers(endpoints)
    client = RPCClient(h.transport, Target(topic=h.topic, server="s1"), timeout=10)
    assert {await client.call(CTX, "record") for _ in range(10)} == {"s1"}
    for _ in range(5):
        await client.cast(CTX, "record")
    await endpoints[1].wait_for_calls(15)
    assert not endpoints[0].calls and not endpoints[2].calls


async def fanout_reaches_every_server(h: Harness) -> None:
    endpoints = [RecordingEndpoint(f"s{i}") for i in range(3)]
    await h.servers(endpoints)
    await RPCClient(h.transport, Target(topic=h.topic, fanout=True)).cast(CTX, "record")
    for endpoint in endpoints:
        assert await endpoint.wait_for_calls(1) == [("record", {})]


async def call_without_server_times_out(h: Harness) -> None:
    client = RPCClient(h.transport, Target(topic=h.topic), timeout=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    call = client.call(CTX, "echo", value=1)
    await expect_error(MessagingTimeout, call, "a call nobody serves returned")
    assert loop.time() - started < 5


async def at_least_once_request_without_a_queue_is_undeliverable(h: Harness) -> None:
    """The mandatory flag turns a timeout (or a silent drop) into an error at once."""
    options = TransportOptions(at_least_once=True)
    client = RPCClient(h.transport, Target(topic=h.topic), timeout=30)
    mandatory = client.prepare(transport_options=options)
    loop = asyncio.get_running_loop()
    started = loop.time()
    why = "a mandatory request no queue takes was accepted"
    await expect_error(MessageUndeliverable, mandatory.call(CTX, "echo", value=1), why)
    await expect_error(MessageUndeliverable, mandatory.cast(CTX, "record"), why)
    assert loop.time() - started < 10  # at once, not after the 30 s call timeout
    await client.cast(CTX, "record")  # without the option a cast is dropped quietly
    await mandatory.prepare(fanout=True).cast(CTX, "record")  # fanout is never mandatory
    await h.servers([RecordingEndpoint()])  # with a server the same client delivers
    assert await mandatory.call(CTX, "echo", value=2) == 2


async def two_transports_talk(h: Harness) -> None:
    await h.servers([RecordingEndpoint()], transport=h.server_transport)
    client = RPCClient(h.transport, Target(topic=h.topic), timeout=10)
    assert await client.call(CTX, "echo", value="across") == "across"


async def stop_then_wait_drains_calls_in_flight(h: Harness) -> None:
    endpoint = RecordingEndpoint()
    (server,) = await h.servers([endpoint])
    client = RPCClient(h.transport, Target(topic=h.topic), timeout=10)
    calls = [asyncio.ensure_future(client.call(CTX, "sleep", seconds=0.5)) for _ in range(3)]
    try:
        await endpoint.wait_for_calls(3)
        await server.stop()
        await server.wait(timeout=5)
        assert await asyncio.gather(*calls) == [0.5, 0.5, 0.5]
    finally:
        for call in calls:
            call.cancel()


async def messages_wait_for_a_server_to_come_back(h: Harness) -> None:
    endpoint = RecordingEndpoint()
    (server,) = await h.servers([endpoint])
    await server.stop()
    await server.wait(timeout=10)
    await RPCClient(h.transport, Target(topic=h.topic)).cast(CTX, "record", n=7)
    await server.start()
    assert await endpoint.wait_for_calls(1) == [("record", {"n": 7})]


async def exchange_override_routes_separately(h: Harness) -> None:
    await h.servers([RecordingEndpoint("other")], exchange="nova_other")
    client = RPCClient(h.transport, Target(topic=h.topic), timeout=0.5)
    why = "a call on the control exchange reached a server on another exchange"
    await expect_error(MessagingTimeout, client.call(CTX, "record"), why)
    assert await client.prepare(exchange="nova_other", timeout=10).call(CTX, "record") == "other"


async def duplicate_unique_id_is_dropped(h: Harness) -> None:
    """A second delivery of one ``_unique_id`` is dropped (oslo's duplicate check)."""
    endpoint = RecordingEndpoint()
    await h.servers([endpoint])
    target = Target(topic=h.topic)
    body = request_body("record", CTX, n=1)
    await send_raw(h.transport, target, body)
    await send_raw(h.transport, target, body)
    await send_raw(h.transport, target, request_body("record", CTX, n=2))
    calls = await endpoint.wait_for_calls(2)
    assert calls == [("record", {"n": 1}), ("record", {"n": 2})], calls


async def call_monitor_notices_a_silent_server(h: Harness) -> None:
    """A consumer that never answers: the call monitor ends the call early."""
    async with capture(h.transport, Target(topic=h.topic, server="silent")) as wire:
        client = RPCClient(h.transport, Target(topic=h.topic), timeout=30, call_monitor_timeout=1)
        started = asyncio.get_running_loop().time()
        call = client.call(CTX, "sleep", seconds=10)
        await expect_error(MessagingTimeout, call, "a call to a silent server returned")
        assert asyncio.get_running_loop().time() - started < 5
        assert (await wire.wait(1))[0]["_timeout"] == 1


ROUTING_CHECKS = (
    cast_reaches_the_server,
    topic_messages_are_shared_by_the_group,
    server_directed_messages_reach_only_that_server,
    fanout_reaches_every_server,
    call_without_server_times_out,
    at_least_once_request_without_a_queue_is_undeliverable,
    two_transports_talk,
    stop_then_wait_drains_calls_in_flight,
    messages_wait_for_a_server_to_come_back,
    exchange_override_routes_separately,
    duplicate_unique_id_is_dropped,
    call_monitor_notices_a_silent_server,
)
