"""Conformance checks: what a call returns, how errors come back, what the wire carries.

Each check is ``async def check(h: Harness) -> None`` (see ``_checks_routing``).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from aionova.rpc._client import RPCClient
from aionova.rpc._target import Target
from aionova.rpc.errors import (
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    UnsupportedVersion,
)
from aionova.rpc.testing._harness import Harness, expect_error
from aionova.rpc.testing._recording import RecordingEndpoint, capture
from aionova.rpc.testing._remote_errors import NotAllowedHere, QuotaExceeded

CTX = {"user": "u1", "project": "p1", "request_id": "req-1"}
#: Values a call must return exactly: no truthiness collapse, no type change.
EXACT_VALUES: tuple[Any, ...] = (
    None,
    0,
    False,
    [],
    {},
    "",
    0.5,
    -(2**62),
    "żółw ✓",
    [1, [2, {"a": None}]],
)


class Raiser:
    """Raises what a check asks for."""

    async def quota(self, ctxt: Any, limit: int) -> None:
        raise QuotaExceeded(limit=limit)

    async def forbidden(self, ctxt: Any) -> None:
        raise NotAllowedHere("nope")

    async def zero(self, ctxt: Any) -> float:
        return 1 / 0


def _client(h: Harness, timeout: float = 10, **kwargs: Any) -> RPCClient:
    return RPCClient(h.transport, Target(topic=h.topic), timeout=timeout, **kwargs)


async def call_returns_exactly(h: Harness) -> None:
    await h.servers([RecordingEndpoint()])
    client = _client(h)
    for value in EXACT_VALUES:
        got = await client.call(CTX, "echo", value=value)
        assert got == value and type(got) is type(value), (value, got)


async def concurrent_calls_get_their_own_replies(h: Harness) -> None:
    await h.servers([RecordingEndpoint()])
    delays = [0.3, 0.0, 0.2, 0.1, 0.05]
    results = await asyncio.gather(*(_client(h).call(CTX, "sleep", seconds=d) for d in delays))
    assert results == delays, results


async def context_reaches_the_endpoint(h: Harness) -> None:
    await h.servers([RecordingEndpoint()])
    client = _client(h)
    assert await client.call(CTX, "context") == {**CTX, "client_timeout": None}
    monitored = client.prepare(call_monitor_timeout=30)
    assert (await monitored.call(CTX, "context"))["client_timeout"] == 30


async def builtin_exception_is_rebuilt(h: Harness) -> None:
    await h.servers([Raiser()])
    error = await expect_error(
        ZeroDivisionError, _client(h).call(CTX, "zero"), "a remote ZeroDivisionError was lost"
    )
    assert "Remote traceback" in error.__notes__[0]


async def allowed_exception_is_rebuilt_with_kwargs(h: Harness) -> None:
    await h.servers([Raiser()])
    error = await expect_error(
        QuotaExceeded, _client(h).call(CTX, "quota", limit=3), "an allowed error was not rebuilt"
    )
    assert error.kwargs == {"limit": 3}


async def exception_from_a_module_not_allowed_is_remote_error(h: Harness) -> None:
    strict = h.new_transport()
    await h.servers([Raiser()], transport=strict)
    client = RPCClient(strict, Target(topic=h.topic), timeout=10)
    error = await expect_error(
        RemoteError, client.call(CTX, "quota", limit=3), "a disallowed error was rebuilt"
    )
    assert error.exc_type == "QuotaExceeded"
    assert "quota exceeded" in (error.value or "")
    error = await expect_error(RemoteError, client.call(CTX, "forbidden"), "rebuilt")
    assert (error.exc_type, error.value) == ("NotAllowedHere", "nope")


async def dispatch_errors_are_rebuilt(h: Harness) -> None:
    await h.servers([RecordingEndpoint(target=Target(version="4.5"))])
    client = RPCClient(h.transport, Target(topic=h.topic, version="4.0"), timeout=10)
    no_method = await expect_error(NoSuchMethod, client.call(CTX, "missing"), "NoSuchMethod lost")
    assert no_method.method == "missing"
    too_new = await expect_error(
        UnsupportedVersion,
        client.prepare(version="4.6").call(CTX, "echo"),
        "UnsupportedVersion lost",
    )
    assert (too_new.version, too_new.method) == ("4.6", "echo")


async def call_monitor_keeps_a_long_call_alive(h: Harness) -> None:
    await h.servers([RecordingEndpoint()])
    # Heartbeats every 2 s against a 4 s monitor: a 2 s margin for a busy machine.
    client = _client(h, timeout=30, call_monitor_timeout=4)
    assert await client.call(CTX, "sleep", seconds=5.0) == 5.0


async def call_without_monitor_times_out_on_a_long_call(h: Harness) -> None:
    await h.servers([RecordingEndpoint()])
    call = _client(h, timeout=0.5).call(CTX, "sleep", seconds=3)
    await expect_error(MessagingTimeout, call, "a call outlived its timeout")


async def large_payload_round_trips(h: Harness) -> None:
    await h.servers([RecordingEndpoint()])
    blob = {"rows": [{"id": i, "name": "x" * 100} for i in range(5000)]}
    assert await _client(h, timeout=20).call(CTX, "echo", value=blob) == blob


async def request_wire_format(h: Harness) -> None:
    """oslo.messaging's envelope, context keys and datetime format, byte for byte."""
    when = datetime.datetime(1920, 2, 3, 4, 5, 6, 7)
    target = Target(topic=h.topic, server="wire")
    async with capture(h.transport, target) as wire:
        client = RPCClient(h.transport, target(namespace="ns1", version="4.2"))
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


CALL_CHECKS = (
    call_returns_exactly,
    concurrent_calls_get_their_own_replies,
    context_reaches_the_endpoint,
    builtin_exception_is_rebuilt,
    allowed_exception_is_rebuilt_with_kwargs,
    exception_from_a_module_not_allowed_is_remote_error,
    dispatch_errors_are_rebuilt,
    call_monitor_keeps_a_long_call_alive,
    call_without_monitor_times_out_on_a_long_call,
    large_payload_round_trips,
    request_wire_format,
)
