"""Exceptions across the wire (spec rpc.md §4, conformance items 43–49)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from aionova.rpc import _failures as failures
from aionova.rpc import testing

from aionova import rpc

ALLOWED = [testing.REMOTE_ERRORS_MODULE]


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_failure_record_fields() -> None:
    record = json.loads(failures.serialize(_raised(testing.QuotaExceeded(limit=2))))
    assert record["class"] == "QuotaExceeded"
    assert record["module"] == "aionova.rpc.testing._remote_errors"
    assert record["message"] == "quota exceeded: {'limit': 2}"
    assert record["kwargs"] == {"limit": 2}
    assert record["args"] == ["quota exceeded: {'limit': 2}"]
    assert isinstance(record["tb"], list) and "Traceback" in record["tb"][0]


def test_remote_suffix_is_stripped() -> None:
    klass = type("Boom_Remote", (Exception,), {"__module__": "somewhere_Remote"})
    record = json.loads(failures.serialize(klass("x")))
    assert (record["class"], record["module"]) == ("Boom", "somewhere")


@pytest.mark.parametrize("module", ["builtins", "exceptions"])
def test_builtins_are_always_rebuilt(module: str) -> None:
    data = json.dumps(
        {
            "class": "KeyError",
            "module": module,
            "message": "'k'",
            "tb": ["tb\n"],
            "args": ["k"],
            "kwargs": {},
        }
    )
    exc = failures.deserialize(data)
    assert type(exc) is KeyError and exc.args == ("k",)
    assert exc.__notes__ == ["Remote traceback:\ntb\n"]


def test_allowed_module_rebuilds_with_kwargs() -> None:
    data = failures.serialize(_raised(testing.QuotaExceeded(limit=5)))
    exc = failures.deserialize(data, ALLOWED)
    assert type(exc) is testing.QuotaExceeded and exc.kwargs == {"limit": 5}


def test_rpc_errors_are_always_rebuilt() -> None:
    exc = failures.deserialize(failures.serialize(rpc.UnsupportedVersion("4.6", method="m")))
    assert isinstance(exc, rpc.UnsupportedVersion) and (exc.version, exc.method) == ("4.6", "m")
    exc = failures.deserialize(failures.serialize(rpc.RemoteError("T", "v", ["tb"])))
    assert isinstance(exc, rpc.RemoteError) and exc.exc_type == "T"


def test_our_errors_travel_as_aionova_rpc_errors() -> None:
    record = json.loads(failures.serialize(_raised(rpc.MessagingTimeout("late"))))
    assert (record["module"], record["class"]) == ("aionova.rpc.errors", "MessagingTimeout")


@pytest.mark.parametrize("module", ["aionova.rpc.errors", "rpc.errors"])
def test_our_errors_are_rebuilt_from_either_module_name(module: str) -> None:
    """``rpc.errors`` is what a peer on the layout before the namespacing sends."""
    data = json.dumps(
        {
            "class": "UnsupportedVersion",
            "module": module,
            "message": "Endpoint does not support RPC version 4.6. Attempted method: m",
            "tb": ["tb\n"],
            "args": ["4.6"],
            "kwargs": {"method": "m"},
        }
    )
    exc = failures.deserialize(data)
    assert type(exc) is rpc.UnsupportedVersion and (exc.version, exc.method) == ("4.6", "m")
    assert "rpc" not in sys.modules  # rebuilt from aionova.rpc, never imported as ``rpc``


def test_the_old_name_is_no_general_prefix() -> None:
    """Only ``rpc.errors`` itself is an alias: ``rpc.errors_x`` or ``rpc`` are not ours."""
    for module in ("rpc", "rpc.errors_x", "rpc.errors.sub"):
        data = json.dumps({"class": "MessagingTimeout", "module": module, "message": "m"})
        assert isinstance(failures.deserialize(data), rpc.RemoteError), module


@pytest.mark.parametrize(
    ("module", "cls", "kwargs"),
    [
        ("aionova.rpc.testing._remote_errors", "QuotaExceeded", {}),  # not in the allow-list
        ("no.such.module", "Boom", {}),
        ("aionova.rpc.testing._remote_errors", "NoSuchClass", {}),
        ("builtins", "KeyError", {"unexpected": 1}),
        ("builtins", "SystemExit", {}),
        ("builtins", "print", {}),
    ],
)
def test_everything_else_is_remote_error(module: str, cls: str, kwargs: dict[str, Any]) -> None:
    data = json.dumps(
        {
            "class": cls,
            "module": module,
            "message": "msg",
            "tb": ["t1", "t2"],
            "args": [],
            "kwargs": kwargs,
        }
    )
    allowed = [] if cls == "QuotaExceeded" else ALLOWED
    exc = failures.deserialize(data, allowed)
    assert isinstance(exc, rpc.RemoteError)
    assert (exc.exc_type, exc.value, exc.traceback) == (cls, "msg", ["t1", "t2"])
    assert str(exc) == f"Remote error: {cls} msg\n['t1', 't2']."


def test_garbage_failure_record_is_remote_error() -> None:
    assert isinstance(failures.deserialize("{not json"), rpc.RemoteError)


def test_expected_exceptions_wrap_only_the_listed_types() -> None:
    @rpc.expected_exceptions(LookupError)
    def raises(exc: Exception) -> None:
        raise exc

    with pytest.raises(rpc.ExpectedException) as info:
        raises(KeyError("k"))
    assert isinstance(info.value.exc_info[1], KeyError)
    with pytest.raises(ValueError):
        raises(ValueError("v"))


class Failing:
    @rpc.expected_exceptions(ValueError)
    async def expected(self, ctxt: Any) -> None:
        raise ValueError("expected one")

    async def unexpected(self, ctxt: Any) -> None:
        raise ValueError("unexpected one")


async def test_expected_exception_is_returned_without_error_log(
    transport: rpc.Transport, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [Failing()])
    async with server:
        client = rpc.RPCClient(transport, rpc.Target(topic=topic), timeout=5)
        with caplog.at_level(logging.DEBUG, logger="aionova.rpc._server"):
            with pytest.raises(ValueError, match="expected one"):
                await client.call({}, "expected")
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
            with pytest.raises(ValueError, match="unexpected one"):
                await client.call({}, "unexpected")
            assert [r for r in caplog.records if r.levelno == logging.ERROR]
