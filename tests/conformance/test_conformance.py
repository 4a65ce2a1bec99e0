"""Behaviour every transport must show, through the public API (spec rpc.md §9).

Runs against memory:// and rabbit:// alike (see conftest.py).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest
from aionova.rpc import _envelope as envelope
from aionova.rpc.testing import RecordingEndpoint, capture

from aionova import rpc
from tests.conformance import remote_errors

CTX = {"user": "u1", "project": "p1", "request_id": "req-1"}


class Raiser:
    """Raises what a test asks for."""

    async def quota(self, ctxt: Any, limit: int) -> None:
        raise remote_errors.QuotaExceeded(limit=limit)

    async def forbidden(self, ctxt: Any) -> None:
        raise remote_errors.NotAllowedHere("nope")

    async def zero(self, ctxt: Any) -> float:
        return 1 / 0


async def _servers(transport: rpc.Transport, topic: str, endpoints: list[object]) -> list[Any]:
    servers = []
    for i, endpoint in enumerate(endpoints):
        server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server=f"s{i}"), [endpoint])
        await server.start()
        servers.append(server)
    return servers


async def _stop(*servers: rpc.RPCServer) -> None:
    for server in servers:
        await server.stop()
        await server.wait(timeout=10)


@pytest.mark.parametrize(
    "value", [None, 0, False, [], {}, "", 0.5, -(2**62), "żółw ✓", [1, [2, {"a": None}]]]
)
async def test_call_returns_exactly(transport: rpc.Transport, topic: str, value: Any) -> None:
    (server,) = await _servers(transport, topic, [RecordingEndpoint()])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
    assert await client.call(CTX, "echo", value=value) == value
    await _stop(server)


async def test_cast_reaches_the_server(transport: rpc.Transport, topic: str) -> None:
    endpoint = RecordingEndpoint()
    (server,) = await _servers(transport, topic, [endpoint])
    await rpc.RPCClient(transport, rpc.Target(topic=topic)).cast(CTX, "record", n=1)
    assert await endpoint.wait_for_calls(1) == [("record", {"n": 1})]
    await _stop(server)


async def test_topic_messages_are_shared_by_the_group(transport: rpc.Transport, topic: str) -> None:
    endpoints = [RecordingEndpoint(f"s{i}") for i in range(3)]
    servers = await _servers(transport, topic, endpoints)
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
    answered = [await client.call(CTX, "record") for _ in range(30)]
    for _ in range(30):
        await client.cast(CTX, "record")
    await asyncio.gather(*(e.wait_for_calls(1) for e in endpoints))
    assert set(answered) <= {"s0", "s1", "s2"} and len(set(answered)) >= 2
    async with asyncio.timeout(10):
        while sum(len(e.calls) for e in endpoints) < 60:
            await asyncio.sleep(0.01)
    assert all(0 < len(e.calls) < 60 for e in endpoints)
    await _stop(*servers)


async def test_server_directed_messages_reach_only_that_server(
    transport: rpc.Transport, topic: str
) -> None:
    endpoints = [RecordingEndpoint(f"s{i}") for i in range(3)]
    servers = await _servers(transport, topic, endpoints)
    client = rpc.RPCClient(transport, rpc.Target(topic=topic, server="s1"), timeout=10)
    assert {await client.call(CTX, "record") for _ in range(10)} == {"s1"}
    for _ in range(5):
        await client.cast(CTX, "record")
    await endpoints[1].wait_for_calls(15)
    assert not endpoints[0].calls and not endpoints[2].calls
    await _stop(*servers)


async def test_fanout_reaches_every_server(transport: rpc.Transport, topic: str) -> None:
    endpoints = [RecordingEndpoint(f"s{i}") for i in range(3)]
    servers = await _servers(transport, topic, endpoints)
    await rpc.RPCClient(transport, rpc.Target(topic=topic, fanout=True)).cast(CTX, "record")
    for endpoint in endpoints:
        assert await endpoint.wait_for_calls(1) == [("record", {})]
    await _stop(*servers)


async def test_call_without_server_times_out(transport: rpc.Transport, topic: str) -> None:
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(rpc.MessagingTimeout):
        await client.call(CTX, "echo", value=1)
    assert loop.time() - started < 5


async def test_at_least_once_request_without_a_queue_is_undeliverable(
    transport: rpc.Transport, topic: str
) -> None:
    """Item 21: the mandatory flag turns a timeout (or a silent drop) into an error."""
    options = rpc.TransportOptions(at_least_once=True)
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=30)
    mandatory = client.prepare(transport_options=options)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(rpc.MessageUndeliverable):
        await mandatory.call(CTX, "echo", value=1)
    with pytest.raises(rpc.MessageUndeliverable):
        await mandatory.cast(CTX, "record")
    assert loop.time() - started < 10  # at once, not after the 30 s call timeout
    await client.cast(CTX, "record")  # without the option a cast is dropped quietly
    await mandatory.prepare(fanout=True).cast(CTX, "record")  # fanout is never mandatory
    # With a server the same client delivers normally.
    (server,) = await _servers(transport, topic, [RecordingEndpoint()])
    assert await mandatory.call(CTX, "echo", value=2) == 2
    await _stop(server)


async def test_concurrent_calls_get_their_own_replies(transport: rpc.Transport, topic: str) -> None:
    (server,) = await _servers(transport, topic, [RecordingEndpoint()])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
    delays = [0.3, 0.0, 0.2, 0.1, 0.05]
    results = await asyncio.gather(*(client.call(CTX, "sleep", seconds=d) for d in delays))
    assert results == delays
    await _stop(server)


async def test_two_transports_talk(
    transport: rpc.Transport, server_transport: rpc.Transport, topic: str
) -> None:
    (server,) = await _servers(server_transport, topic, [RecordingEndpoint()])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
    assert await client.call(CTX, "echo", value="across") == "across"
    await _stop(server)


async def test_context_reaches_the_endpoint(transport: rpc.Transport, topic: str) -> None:
    (server,) = await _servers(transport, topic, [RecordingEndpoint()])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
    assert await client.call(CTX, "context") == {**CTX, "client_timeout": None}
    monitored = client.prepare(call_monitor_timeout=30)
    assert (await monitored.call(CTX, "context"))["client_timeout"] == 30
    await _stop(server)


async def test_builtin_exception_is_rebuilt(transport: rpc.Transport, topic: str) -> None:
    (server,) = await _servers(transport, topic, [Raiser()])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
    with pytest.raises(ZeroDivisionError) as info:
        await client.call(CTX, "zero")
    assert "Remote traceback" in info.value.__notes__[0]
    await _stop(server)


async def test_allowed_exception_is_rebuilt_with_kwargs(
    transport: rpc.Transport, topic: str
) -> None:
    (server,) = await _servers(transport, topic, [Raiser()])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
    with pytest.raises(remote_errors.QuotaExceeded) as info:
        await client.call(CTX, "quota", limit=3)
    assert info.value.kwargs == {"limit": 3}
    await _stop(server)


async def test_exception_from_a_module_not_allowed_is_remote_error(
    bus_or_broker_url: str, topic: str
) -> None:
    async with rpc.get_rpc_transport(bus_or_broker_url) as transport:
        (server,) = await _servers(transport, topic, [Raiser()])
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
        with pytest.raises(rpc.RemoteError) as info:
            await client.call(CTX, "quota", limit=3)
        assert info.value.exc_type == "QuotaExceeded"
        assert "quota exceeded" in info.value.value
        await _stop(server)


async def test_dispatch_errors_are_rebuilt(transport: rpc.Transport, topic: str) -> None:
    endpoint = RecordingEndpoint(target=rpc.Target(version="4.5"))
    (server,) = await _servers(transport, topic, [endpoint])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic, version="4.0"), timeout=10)
    with pytest.raises(rpc.NoSuchMethod) as no_method:
        await client.call(CTX, "missing")
    assert no_method.value.method == "missing"
    with pytest.raises(rpc.UnsupportedVersion) as too_new:
        await client.prepare(version="4.6").call(CTX, "echo")
    assert (too_new.value.version, too_new.value.method) == ("4.6", "echo")
    await _stop(server)


async def test_call_monitor_keeps_a_long_call_alive(transport: rpc.Transport, topic: str) -> None:
    (server,) = await _servers(transport, topic, [RecordingEndpoint()])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=30, call_monitor_timeout=2)
    assert await client.call(CTX, "sleep", seconds=3.2) == 3.2
    await _stop(server)


async def test_call_monitor_notices_a_silent_server(transport: rpc.Transport, topic: str) -> None:
    endpoint = RecordingEndpoint()
    async with capture(transport, rpc.Target(topic=topic, server="silent")) as wire:
        client = rpc.RPCClient(
            transport, rpc.Target(topic=topic), timeout=30, call_monitor_timeout=1
        )
        started = asyncio.get_running_loop().time()
        with pytest.raises(rpc.MessagingTimeout):
            await client.call(CTX, "sleep", seconds=10)
        assert asyncio.get_running_loop().time() - started < 5
        assert (await wire.wait(1))[0]["_timeout"] == 1
    assert not endpoint.calls


async def test_stop_then_wait_drains_calls_in_flight(transport: rpc.Transport, topic: str) -> None:
    endpoint = RecordingEndpoint()
    (server,) = await _servers(transport, topic, [endpoint])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
    calls = [asyncio.ensure_future(client.call(CTX, "sleep", seconds=0.5)) for _ in range(3)]
    await endpoint.wait_for_calls(3)
    await server.stop()
    await server.wait(timeout=5)
    assert await asyncio.gather(*calls) == [0.5, 0.5, 0.5]


async def test_messages_wait_for_a_server_to_come_back(
    transport: rpc.Transport, topic: str
) -> None:
    endpoint = RecordingEndpoint()
    (server,) = await _servers(transport, topic, [endpoint])
    await _stop(server)
    await rpc.RPCClient(transport, rpc.Target(topic=topic)).cast(CTX, "record", n=7)
    await server.start()
    assert await endpoint.wait_for_calls(1) == [("record", {"n": 7})]
    await _stop(server)


async def test_exchange_override_routes_separately(transport: rpc.Transport, topic: str) -> None:
    other = RecordingEndpoint("other")
    server = rpc.get_rpc_server(
        transport, rpc.Target(topic=topic, server="b", exchange="nova_other"), [other]
    )
    await server.start()
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=0.5)
    with pytest.raises(rpc.MessagingTimeout):  # nothing bound on the control exchange
        await client.call(CTX, "record")
    assert await client.prepare(exchange="nova_other", timeout=10).call(CTX, "record") == "other"
    await _stop(server)


async def test_large_payload_round_trips(transport: rpc.Transport, topic: str) -> None:
    (server,) = await _servers(transport, topic, [RecordingEndpoint()])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=20)
    blob = {"rows": [{"id": i, "name": "x" * 100} for i in range(5000)]}
    assert await client.call(CTX, "echo", value=blob) == blob
    await _stop(server)


async def test_request_wire_format(transport: rpc.Transport, topic: str) -> None:
    when = datetime.datetime(1920, 2, 3, 4, 5, 6, 7)
    target = rpc.Target(topic=topic, server="wire")
    async with capture(transport, target) as wire:
        client = rpc.RPCClient(transport, target(namespace="ns1", version="4.2"))
        await client.cast(CTX, "echo", x=[1, "a"], when=when)
        (message,) = await wire.wait(1)
    assert message["method"] == "echo"
    assert message["args"] == {"x": [1, "a"], "when": "1920-02-03T04:05:06.000007"}
    assert (message["namespace"], message["version"]) == ("ns1", "4.2")
    assert len(message["_unique_id"]) == 32
    assert {k: v for k, v in message.items() if k.startswith("_context_")} == {
        "_context_user": "u1",
        "_context_project": "p1",
        "_context_request_id": "req-1",
    }
    assert "_msg_id" not in message and "_reply_q" not in message
    assert wire.bodies[0].startswith(b'{"oslo.version": "2.0", "oslo.message": "')


async def test_duplicate_unique_id_is_dropped(transport: rpc.Transport, topic: str) -> None:
    endpoint = RecordingEndpoint()
    (server,) = await _servers(transport, topic, [endpoint])
    body = envelope.encode_request("record", {"n": 1}, CTX)
    target = rpc.Target(topic=topic)
    await transport._driver.send(target, body)
    await transport._driver.send(target, body)
    await transport._driver.send(target, envelope.encode_request("record", {"n": 2}, CTX))
    calls = await endpoint.wait_for_calls(2)
    assert calls == [("record", {"n": 1}), ("record", {"n": 2})]
    await _stop(server)


@pytest.fixture
def bus_or_broker_url(transport_url: str) -> str:
    return transport_url
