"""RPCClient: prepare, version caps, timeouts, serializers (conformance items 6–20)."""

from __future__ import annotations

from typing import Any

import pytest
from aionova.rpc.testing import RecordingEndpoint, capture

from aionova import rpc

CTX = {"user": "u1"}


def test_prepare_replaces_and_clears_and_never_mutates(transport: rpc.Transport) -> None:
    client = rpc.RPCClient(
        transport, rpc.Target(exchange="ex", topic="t", version="1.0"), timeout=5, version_cap="1.5"
    )
    prepared = client.prepare(exchange=None, server="s", version="1.2", timeout=0)
    assert prepared.target == rpc.Target(topic="t", server="s", version="1.2")
    assert prepared.timeout == 0 and prepared.version_cap == "1.5"
    assert client.target == rpc.Target(exchange="ex", topic="t", version="1.0")
    assert client.timeout == 5
    assert prepared.prepare().target == prepared.target
    assert client.prepare(version_cap=None).version_cap is None
    with pytest.raises(TypeError):
        client.prepare(colour="red")


@pytest.mark.parametrize("bad", ["5", "5.a", "5.5.a"])
def test_prepare_refuses_malformed_versions(transport: rpc.Transport, bad: str) -> None:
    client = rpc.RPCClient(transport, rpc.Target(topic="t"))
    with pytest.raises(rpc.MessagingException):
        client.prepare(version=bad)
    with pytest.raises(rpc.MessagingException):
        client.can_send_version(bad)


@pytest.mark.parametrize(
    ("cap", "target_version", "asked", "expected"),
    [
        (None, None, ..., True),
        ("4.0", "4.0", ..., True),
        ("4.0", "4.5", ..., False),
        ("4.0", None, ..., False),
        ("4.5", None, "4.5", True),
        ("4.5", None, "4.6", False),
        ("4.5", None, None, False),
        ("2.0", None, "1.0", False),
        (None, None, "9.9", True),
    ],
)
def test_can_send_version(
    transport: rpc.Transport,
    cap: str | None,
    target_version: str | None,
    asked: Any,
    expected: bool,
) -> None:
    client = rpc.RPCClient(
        transport, rpc.Target(topic="t", version=target_version), version_cap=cap
    )
    assert client.can_send_version(asked) is expected
    assert client.prepare().can_send_version(asked) is expected


@pytest.mark.parametrize(
    ("cap", "version"), [("1.0", "1.1"), ("4.0", "4.5"), ("2.0", "1.0"), ("4.0", None)]
)
async def test_version_cap_refuses_before_sending(
    transport: rpc.Transport, topic: str, cap: str, version: str | None
) -> None:
    target = rpc.Target(topic=topic, server="s")
    async with capture(transport, target) as wire:
        client = rpc.RPCClient(transport, target(version="1.0"), version_cap=cap)
        prepared = client.prepare(version=version)  # not checked at prepare time
        with pytest.raises(rpc.RPCVersionCapError) as info:
            await prepared.cast(CTX, "m")
        with pytest.raises(rpc.RPCVersionCapError):
            await prepared.call(CTX, "m")
        assert (info.value.version, info.value.version_cap) == (version, cap)
        assert "version cap " + cap in str(info.value)
        await client.prepare(version=None, version_cap=None).cast(CTX, "m")
        messages = await wire.wait(1)
    assert len(messages) == 1 and "version" not in messages[0]


async def test_message_keys(transport: rpc.Transport, topic: str) -> None:
    target = rpc.Target(topic=topic, server="s")
    async with capture(transport, target) as wire:
        await rpc.RPCClient(transport, target).cast(CTX, "bare")
        await rpc.RPCClient(transport, target(namespace="ns", version="2.3")).cast(CTX, "full", a=1)
        bare, full = await wire.wait(2)
    assert bare["method"] == "bare" and bare["args"] == {}
    assert "namespace" not in bare and "version" not in bare
    assert (full["namespace"], full["version"], full["args"]) == ("ns", "2.3", {"a": 1})


async def test_call_carries_reply_keys_and_monitor(transport: rpc.Transport, topic: str) -> None:
    target = rpc.Target(topic=topic, server="s")
    async with capture(transport, target) as wire:
        client = rpc.RPCClient(transport, target, timeout=0.2, call_monitor_timeout=7)
        with pytest.raises(rpc.MessagingTimeout):
            await client.call(CTX, "m")
        (message,) = await wire.wait(1)
    assert message["_reply_q"].startswith("reply_") and len(message["_msg_id"]) == 32
    assert message["_timeout"] == 7


async def test_call_on_fanout_target_is_invalid(transport: rpc.Transport) -> None:
    with pytest.raises(rpc.InvalidTarget):
        await rpc.RPCClient(transport, rpc.Target(topic="t", fanout=True)).call(CTX, "m")
    with pytest.raises(rpc.InvalidTarget):
        await rpc.RPCClient(transport, rpc.Target(topic="t")).prepare(fanout=True).call(CTX, "m")


async def test_a_topic_is_required(transport: rpc.Transport) -> None:
    for send in ("cast", "call"):
        with pytest.raises(rpc.InvalidTarget, match="topic is required"):
            await getattr(rpc.RPCClient(transport, rpc.Target()), send)(CTX, "m")


async def test_timeout_zero_times_out_at_once(transport: rpc.Transport, topic: str) -> None:
    client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=0)
    with pytest.raises(rpc.MessagingTimeout):
        await client.call(CTX, "m")


def test_timeout_resolution(bus_url: str) -> None:
    transport = rpc.get_rpc_transport(bus_url, response_timeout=42)
    client = rpc.RPCClient(transport, rpc.Target(topic="t"))
    assert client.timeout is None and transport.response_timeout == 42
    assert client.prepare(timeout=0).timeout == 0
    assert rpc.RPCClient(transport, rpc.Target(topic="t"), retry=0).prepare().retry == 0


class Tagging:
    """A serializer that leaves marks, to see each hook run with the right context."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, Any]] = []

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        self.seen.append(("serialize_entity", ctxt, entity))
        return f"s:{entity}"

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        self.seen.append(("deserialize_entity", ctxt, entity))
        return f"d:{entity}"

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        self.seen.append(("serialize_context", ctxt, None))
        return {"who": ctxt["user"].upper()}

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        self.seen.append(("deserialize_context", ctxt, None))
        return {"rebuilt": ctxt["who"]}


async def test_serializers_run_on_both_sides(transport: rpc.Transport, topic: str) -> None:
    client_side, server_side = Tagging(), Tagging()
    server = rpc.get_rpc_server(
        transport,
        rpc.Target(topic=topic, server="s"),
        [RecordingEndpoint()],
        serializer=server_side,
    )
    async with server:
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), serializer=client_side)
        assert await client.call(CTX, "echo", value="v") == "d:s:d:s:v"
    assert client_side.seen == [
        ("serialize_entity", CTX, "v"),
        ("serialize_context", CTX, None),
        ("deserialize_entity", CTX, "s:d:s:v"),
    ]
    rebuilt = {"rebuilt": "U1"}
    assert server_side.seen == [
        ("deserialize_context", {"who": "U1", "client_timeout": None}, None),
        ("deserialize_entity", rebuilt, "s:v"),
        ("serialize_entity", rebuilt, "d:s:v"),
    ]


async def test_unencodable_argument_is_a_clear_local_error(
    transport: rpc.Transport, topic: str
) -> None:
    client = rpc.RPCClient(transport, rpc.Target(topic=topic))
    with pytest.raises(TypeError, match="cannot send m"):
        await client.cast(CTX, "m", thing=object())


async def test_context_object_with_to_dict(transport: rpc.Transport, topic: str) -> None:
    class Context:
        def to_dict(self) -> dict[str, Any]:
            return {"user": "obj"}

    server = rpc.get_rpc_server(
        transport, rpc.Target(topic=topic, server="s"), [RecordingEndpoint()]
    )
    async with server:
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
        assert (await client.call(Context(), "context"))["user"] == "obj"
        with pytest.raises(TypeError):
            await client.call(object(), "context")
