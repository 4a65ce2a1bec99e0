"""Our errors cross RabbitMQ under either module name, both ways (issue 10, item 4).

A server of ours names ``aionova.rpc.errors`` in its failure records; a peer still
on the layout before the namespacing (top-level ``rpc``) names ``rpc.errors``.
A client of ours rebuilds the same class from both, never a ``RemoteError``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aio_pika
import pytest
from aionova.rpc import errors
from amqp_helpers import next_message

from aionova import rpc

pytestmark = pytest.mark.rabbit


class Slowpoke:
    async def give_up(self, ctxt: dict[str, Any]) -> None:
        raise rpc.MessagingTimeout("the hypervisor did not answer")


def _wrap(message: dict[str, Any]) -> bytes:
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(message)}).encode()


def _unwrap(body: bytes) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(json.loads(body)["oslo.message"])
    return message


async def _raw_call(
    channel: aio_pika.abc.AbstractChannel, topic: str, method: str, **extra: Any
) -> dict[str, Any]:
    """Call ``method`` by hand as an oslo.messaging client does; return the failure record."""
    reply_q = await channel.declare_queue(f"reply_{uuid.uuid4().hex}", auto_delete=True)
    msg_id = uuid.uuid4().hex
    request = {"method": method, "args": {}, "_msg_id": msg_id, "_reply_q": reply_q.name, **extra}
    request["_unique_id"] = uuid.uuid4().hex
    message = aio_pika.Message(_wrap(request), content_type="application/json")
    await channel.default_exchange.publish(message, routing_key=topic)
    reply = _unwrap((await next_message(reply_q)).body)
    assert reply["_msg_id"] == msg_id and reply["ending"] is True
    record: dict[str, Any] = json.loads(reply["failure"])
    return record


async def test_our_server_names_aionova_rpc_errors_and_our_client_rebuilds_it(
    rabbit_url: str, raw_channel: aio_pika.abc.AbstractChannel, topic: str
) -> None:
    async with (
        rpc.get_rpc_transport(rabbit_url) as transport,
        rpc.get_rpc_server(
            transport, rpc.Target(topic=topic, server="s"), [Slowpoke()], ping_enabled=True
        ),
    ):
        # On the wire: the failure records name the new module.
        record = await _raw_call(raw_channel, topic, "give_up")
        assert (record["module"], record["class"]) == ("aionova.rpc.errors", "MessagingTimeout")
        assert record["message"] == "the hypervisor did not answer"
        record = await _raw_call(raw_channel, topic, "give_up", version="9.0")
        assert (record["module"], record["class"]) == ("aionova.rpc.errors", "UnsupportedVersion")
        # Our client rebuilds both classes (not RemoteError, not a local timeout).
        client = rpc.get_rpc_client(transport, rpc.Target(topic=topic), timeout=10)
        with pytest.raises(rpc.MessagingTimeout, match="hypervisor did not answer") as late:
            await client.call({}, "give_up")
        assert "Remote traceback" in late.value.__notes__[0]
        with pytest.raises(rpc.UnsupportedVersion) as too_new:
            await client.prepare(version="9.0").call({}, "give_up")
        assert (too_new.value.version, too_new.value.method) == ("9.0", "give_up")


class OldLayoutPeer:
    """A server on the old layout, by hand: answers every request with one failure."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, failure: dict[str, Any]) -> None:
        self.channel = channel
        self.failure = failure
        self.answered = 0

    async def serve(self, topic: str) -> aio_pika.abc.AbstractQueue:
        exchange = await self.channel.declare_exchange("openstack", "topic")
        queue = await self.channel.declare_queue(topic)
        await queue.bind(exchange, topic)
        await queue.consume(self._answer, no_ack=True)
        return queue

    async def _answer(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        request = _unwrap(message.body)
        reply = {
            "result": None,
            "failure": json.dumps(self.failure),
            "ending": True,
            "_msg_id": request["_msg_id"],
            "_unique_id": uuid.uuid4().hex,
        }
        await self.channel.default_exchange.publish(
            aio_pika.Message(_wrap(reply), content_type="application/json"),
            routing_key=request["_reply_q"],
            mandatory=True,
        )
        self.answered += 1


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (
            {
                "class": "UnsupportedVersion",
                "module": "rpc.errors",
                "message": "Endpoint does not support RPC version 6.0. Attempted method: boot",
                "tb": ["Traceback (most recent call last):\n", "  old peer\n"],
                "args": ["6.0"],
                "kwargs": {"method": "boot"},
            },
            errors.UnsupportedVersion,
        ),
        (
            {
                "class": "MessagingTimeout",
                "module": "rpc.errors",
                "message": "Timed out waiting for a reply",
                "tb": [],
                "args": ["Timed out waiting for a reply"],
                "kwargs": {},
            },
            errors.MessagingTimeout,
        ),
    ],
)
async def test_an_old_layout_peer_naming_rpc_errors_is_rebuilt(
    rabbit_url: str,
    raw_channel: aio_pika.abc.AbstractChannel,
    topic: str,
    failure: dict[str, Any],
    expected: type[Exception],
) -> None:
    peer = OldLayoutPeer(raw_channel, failure)
    await peer.serve(topic)
    async with rpc.get_rpc_transport(rabbit_url) as transport:
        client = rpc.get_rpc_client(transport, rpc.Target(topic=topic), timeout=10)
        with pytest.raises(expected) as info:
            await client.call({}, "boot")
    assert type(info.value) is expected
    assert info.value.args == tuple(failure["args"])
    assert info.value.kwargs == failure["kwargs"]
    assert info.value.__notes__ == ["Remote traceback:\n" + "".join(failure["tb"])]
    assert peer.answered == 1
