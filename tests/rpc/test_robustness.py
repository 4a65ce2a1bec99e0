"""Hostile input: bodies nested too deep, method names of megabytes (memory:// and rabbit://)."""

from __future__ import annotations

import asyncio
import gc
import logging
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aionova.rpc import _envelope as envelope
from aionova.rpc import _failures as failures
from aionova.rpc._dispatcher import MAX_NAME_LENGTH, Dispatcher
from aionova.rpc._replies import ReplyWaiters
from aionova.rpc.testing import RecordingEndpoint

from aionova import rpc

DEEP = b"[" * 10000 + b"]" * 10000
DEEP_ENVELOPED = b'{"oslo.version": "2.0", "oslo.message": "' + DEEP + b'"}'
DEEP_ARGS = b'{"method": "echo", "args": {"value": ' + b"[" * 10000 + b"]" * 10000 + b"}}"


@pytest.fixture(params=["memory", pytest.param("rabbit", marks=pytest.mark.rabbit)])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex[:12]}"
    rabbit_url: str = request.getfixturevalue("rabbit_url")
    return rabbit_url


@pytest.fixture
async def transport(url: str) -> AsyncIterator[rpc.Transport]:
    async with rpc.get_rpc_transport(url) as t:
        yield t


@pytest.mark.parametrize("body", [DEEP, DEEP_ENVELOPED, DEEP_ARGS])
def test_every_decode_failure_is_a_malformed_message(body: bytes) -> None:
    with pytest.raises(rpc.MalformedMessage, match="RecursionError"):
        envelope.decode_request(body)
    with pytest.raises(rpc.MalformedMessage, match="RecursionError"):
        envelope.decode_reply(body)


def test_a_failure_record_nested_too_deep_is_a_remote_error() -> None:
    record = '{"class": "ValueError", "module": "builtins", "message": "x", "args": '
    error = failures.deserialize(record + "[" * 10000 + "]" * 10000 + "}")
    assert isinstance(error, rpc.RemoteError) and "RecursionError" in str(error)


def test_a_failure_whose_arguments_cannot_travel_keeps_class_and_message() -> None:
    nested: list[Any] = []
    for _ in range(10000):
        nested = [nested]
    rebuilt = failures.deserialize(failures.serialize(ValueError("too deep", nested)))
    assert type(rebuilt) is ValueError and rebuilt.args == ()


def test_a_result_nested_too_deep_cannot_be_encoded() -> None:
    nested: list[Any] = []
    for _ in range(10000):
        nested = [nested]
    with pytest.raises(rpc.MalformedMessage, match="cannot encode"):
        envelope.encode_reply("m1", result=nested)


async def settled(server: rpc.RPCServer) -> None:
    async with asyncio.timeout(10):
        while server._tasks or server._backlog:
            await asyncio.sleep(0.01)


async def test_a_deeply_nested_body_does_not_kill_a_worker(
    transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One worker: before the fix the first body killed it and the rest waited forever."""
    endpoint = RecordingEndpoint()
    target = rpc.Target(topic=topic, server="s")
    server = rpc.get_rpc_server(transport, target, [endpoint], max_concurrency=1)
    async with server:
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
        for body in (DEEP, DEEP_ENVELOPED, DEEP_ARGS):
            await transport._driver.send(rpc.Target(topic=topic), body)
        for n in range(5):
            await client.cast({}, "echo", value=n)
        assert await client.call({}, "echo", value="last") == "last"
        calls = await endpoint.wait_for_calls(6)
        await settled(server)
    assert [kwargs["value"] for _, kwargs in calls] == [0, 1, 2, 3, 4, "last"]
    assert caplog.text.count("dropped a malformed message") == 3


async def test_a_deeply_nested_reply_is_dropped_and_calls_go_on(
    transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = RecordingEndpoint()
    async with rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [endpoint]):
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=10)
        assert await client.call({}, "echo", value=1) == 1
        reply_q = transport._replies.known_address
        assert reply_q is not None
        await transport._driver.reply(reply_q, DEEP)
        assert await client.call({}, "echo", value=2) == 2
        async with asyncio.timeout(10):
            while "malformed reply" not in caplog.text:
                await asyncio.sleep(0.01)


async def test_a_reply_with_a_failure_nested_too_deep_ends_the_call() -> None:
    async with rpc.get_rpc_transport(f"memory://{uuid.uuid4().hex[:12]}") as transport:
        waiters = ReplyWaiters(transport._driver, ())
        waiter = waiters.register("m1", 5, None)
        record = '{"class": "X", "module": "builtins", "message": "", "args": '
        failure = record + "[" * 10000 + "]" * 10000 + "}"
        waiters.on_reply(envelope.encode_reply("m1", failure=failure))
        with pytest.raises(rpc.RemoteError, match="undecodable failure record"):
            await waiter.future
        waiters.close(rpc.MessagingException("done"))


# -- method names -----------------------------------------------------------


class Endpoint:
    def ping(self, ctxt: Any) -> str:
        return "pong"


def test_an_over_long_method_name_is_refused_shortened() -> None:
    dispatcher = Dispatcher([Endpoint()])
    with pytest.raises(rpc.NoSuchMethod) as caught:
        dispatcher.lookup(None, None, "x" * 5_000_000)
    assert len(str(caught.value)) < 200 and "5000000 characters" in str(caught.value)
    with pytest.raises(rpc.UnsupportedVersion):
        dispatcher.lookup(None, "1." + "0" * 1000, "ping")
    with pytest.raises(rpc.UnsupportedVersion):
        dispatcher.lookup("n" * 1000, None, "ping")
    name = "y" * MAX_NAME_LENGTH  # the longest name still looked up
    with pytest.raises(rpc.NoSuchMethod, match=name):
        dispatcher.lookup(None, None, name)


def test_repeated_misses_are_answered_alike() -> None:
    dispatcher = Dispatcher([Endpoint()])
    for _ in range(3):
        with pytest.raises(rpc.NoSuchMethod, match="missing"):
            dispatcher.lookup(None, None, "missing")
        with pytest.raises(rpc.UnsupportedVersion, match=r"9\.0"):
            dispatcher.lookup(None, "9.0", "ping")
    assert dispatcher.lookup(None, "1.0", "ping").func(None) == "pong"


def growth_after(run: Any) -> int:
    """Bytes still allocated after ``run()`` (tracemalloc), garbage collected."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_distinct_huge_method_names_do_not_accumulate() -> None:
    """Forty distinct 1 MB names used to stay cached: 40 MB held for good."""
    dispatcher = Dispatcher([Endpoint()])

    def flood() -> None:
        for n in range(40):
            name = f"{n:02d}" + "m" * 1_000_000
            with pytest.raises(rpc.NoSuchMethod):
                dispatcher.lookup(None, None, name)

    assert growth_after(flood) < 200_000


def test_distinct_misses_are_bounded_by_count() -> None:
    dispatcher = Dispatcher([Endpoint()])
    dispatcher.lookup(None, None, "ping")

    def flood() -> None:
        for n in range(20_000):
            with pytest.raises(rpc.NoSuchMethod):
                dispatcher.lookup(None, None, f"missing_{n}_" + "m" * 200)

    assert growth_after(flood) < 1_000_000
    assert dispatcher.lookup(None, None, "ping").func(None) == "pong"


async def test_a_server_flooded_with_huge_method_names_holds_no_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL)  # the refusals are logged: not what is measured here
    async with rpc.get_rpc_transport(f"memory://{uuid.uuid4().hex[:12]}") as transport:
        server = rpc.get_rpc_server(transport, rpc.Target(topic="t", server="s"), [Endpoint()])
        client = rpc.RPCClient(transport, rpc.Target(topic="t"), timeout=10)

        async def flood() -> list[str]:
            errors = []
            for n in range(40):
                try:
                    await client.call({}, f"{n:02d}" + "m" * 1_000_000)
                except rpc.NoSuchMethod as exc:
                    errors.append(str(exc))
            return errors

        async def call_missing() -> None:
            with pytest.raises(rpc.NoSuchMethod):
                await client.call({}, "missing")

        async with server:
            assert await client.call({}, "ping") == "pong"
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                errors = await flood()
                await call_missing()  # the caller's last exception no longer holds a name
                await settled(server)
                gc.collect()
                growth = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            assert len(errors) == 40 and all(len(e) < 200 for e in errors)
            assert growth < 500_000
            assert await client.call({}, "ping") == "pong"
