"""Transport.statistics(): what a transport sent and received, as a frozen value."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from aionova import rpc


class Echo:
    async def echo(self, ctxt: Any, value: int) -> int:
        return value

    async def note(self, ctxt: Any, value: int) -> None:
        return None


async def test_counts_casts_calls_and_replies(transport: rpc.Transport, topic: str) -> None:
    assert transport.statistics() == type(transport.statistics())()  # all zero at first
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s1"), [Echo()])
    async with server:
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
        for value in range(3):
            await client.cast({}, "note", value=value)
        assert [await client.call({}, "echo", value=v) for v in range(2)] == [0, 1]
        await server.stop()
        await server.wait(5)
    stats = transport.statistics()
    assert (stats.casts_sent, stats.calls_sent, stats.replies_sent) == (3, 2, 2)
    assert (stats.casts_received, stats.calls_received, stats.replies_received) == (3, 2, 2)
    assert stats.messages_sent == 7
    with pytest.raises(AttributeError):
        stats.casts_sent = 0  # type: ignore[misc]
    assert msgspec.structs.asdict(stats)["calls_sent"] == 2


async def test_a_failed_call_is_a_reply_too(transport: rpc.Transport, topic: str) -> None:
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s1"), [Echo()])
    async with server:
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
        with pytest.raises(TypeError):
            await client.call({}, "echo")  # missing argument: the failure is the reply
    stats = transport.statistics()
    assert (stats.calls_sent, stats.replies_sent, stats.replies_received) == (1, 1, 1)


def test_the_control_plane_keeps_no_message_counter_of_its_own() -> None:
    from aionova import messaging

    assert not hasattr(messaging, "STATS") and not hasattr(messaging, "messages_sent")
