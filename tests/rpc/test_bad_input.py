"""Bad input gets a clear error, the server logs it and keeps serving."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aionova.rpc import _envelope as envelope
from aionova.rpc.testing import RecordingEndpoint, send_raw

from aionova import rpc

CTX = {"user": "u"}


class Unencodable:
    async def weird(self, ctxt: Any) -> object:
        return object()


@pytest.fixture
async def served(transport: rpc.Transport, topic: str) -> Any:
    endpoint = RecordingEndpoint(target=rpc.Target(version="4.5"))
    server = rpc.get_rpc_server(
        transport, rpc.Target(topic=topic, server="s"), [endpoint, Unencodable()]
    )
    async with server:
        yield rpc.RPCClient(transport, rpc.Target(topic=topic, version="4.0"), timeout=5)


async def _still_serving(client: rpc.RPCClient) -> None:
    assert await client.call(CTX, "echo", value="alive") == "alive"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not json",
        b"[1, 2, 3]",
        b'{"oslo.version": "9.0", "oslo.message": "{}"}',
        b'{"oslo.version": "2.0", "oslo.message": "not json"}',
        b'{"oslo.version": "2.0", "oslo.message": "{\\"args\\": {}}"}',
        b'{"method": "echo", "args": "not a dict"}',
    ],
)
async def test_undecodable_bodies_are_logged_and_dropped(
    transport: rpc.Transport,
    served: rpc.RPCClient,
    topic: str,
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="aionova.rpc._server"):
        await send_raw(transport, rpc.Target(topic=topic), body)
        await _still_serving(served)
    assert any("malformed" in r.getMessage() for r in caplog.records)


async def test_missing_method_in_a_call_is_answered(
    transport: rpc.Transport, served: rpc.RPCClient, topic: str
) -> None:
    reply_q = await transport._replies.address()
    waiter = transport._replies.register("a" * 32, 5, None)
    body = envelope.wrap({"args": {}, "_msg_id": "a" * 32, "_reply_q": reply_q, "_unique_id": "u"})
    await send_raw(transport, rpc.Target(topic=topic), body)
    with pytest.raises(rpc.MalformedMessage, match="no method"):
        await waiter.future
    transport._replies.unregister(waiter)
    await _still_serving(served)


async def test_unknown_method(served: rpc.RPCClient) -> None:
    with pytest.raises(rpc.NoSuchMethod, match="nope"):
        await served.call(CTX, "nope")
    await _still_serving(served)


async def test_version_too_new(served: rpc.RPCClient) -> None:
    with pytest.raises(rpc.UnsupportedVersion, match=r"4\.9"):
        await served.prepare(version="4.9").call(CTX, "echo", value=1)
    await _still_serving(served)


async def test_endpoint_that_raises(served: rpc.RPCClient) -> None:
    with pytest.raises(ValueError, match="kaput"):
        await served.call(CTX, "fail", message="kaput")
    await _still_serving(served)


async def test_wrong_arguments_are_a_type_error(served: rpc.RPCClient) -> None:
    with pytest.raises(TypeError):
        await served.call(CTX, "sleep", wrong=1)
    await _still_serving(served)


async def test_result_the_codec_cannot_encode(served: rpc.RPCClient) -> None:
    with pytest.raises(TypeError, match="cannot be encoded"):
        await served.prepare(version="1.0").call(CTX, "weird")
    await _still_serving(served)


async def test_malformed_reply_is_dropped(transport: rpc.Transport, served: rpc.RPCClient) -> None:
    reply_q = await transport._replies.address()
    await transport._driver.reply(reply_q, b"garbage")
    await transport._driver.reply(reply_q, envelope.wrap({"result": 1, "_msg_id": "unknown"}))
    await _still_serving(served)
