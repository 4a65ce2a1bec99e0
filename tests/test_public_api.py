"""The public surface of ``aionova.rpc``: its ``__all__``, its public modules, the seam.

A service uses ``aionova.rpc`` (and its ``errors``); a driver author uses
``aionova.rpc.driver`` and ``aionova.rpc.testing``. Every other module is private.
"""

from __future__ import annotations

import inspect
import pkgutil
import subprocess
import sys

import pytest
from aionova.rpc import driver as seam
from aionova.rpc import testing

from aionova import rpc

PUBLIC_MODULES = {
    "aionova.rpc",
    "aionova.rpc.driver",
    "aionova.rpc.errors",
    "aionova.rpc.notify",
    "aionova.rpc.testing",
}
#: What a user may touch on a Transport: no bytes-level verbs, no driver, no reply table.
TRANSPORT_PUBLIC = {"url", "allowed_remote_exmods", "response_timeout", "close", "statistics"}
SEAM = {
    "Driver",
    "Listener",
    "Delivery",
    "MessageHandler",
    "ReplyHandler",
    "DriverFactory",
    "NotificationDriver",
    "NotificationHandler",
    "RequeueableDelivery",
}
CLIENT_OPTIONS = {
    "timeout",
    "version_cap",
    "serializer",
    "retry",
    "call_monitor_timeout",
    "transport_options",
}

EXPECTED = {
    "Target",
    "get_rpc_transport",
    "Transport",
    "RPCClient",
    "get_rpc_client",
    "get_rpc_server",
    "RPCServer",
    "expose",
    "DefaultRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "LegacyRPCAccessPolicy",
    "RPCAccessPolicyBase",
    "expected_exceptions",
    "Serializer",
    "NoOpSerializer",
    "MessagingException",
    "MessagingTimeout",
    "RemoteError",
    "UnsupportedVersion",
    "NoSuchMethod",
    "RPCVersionCapError",
    "InvalidTarget",
    "ExpectedException",
    "MessageDeliveryFailure",
    "MessageUndeliverable",
    "MalformedMessage",
    "RPCDispatcherError",
    "TransportError",
    "TransportOptions",
    "TransportStatistics",
    # notifications (rpc/notify/)
    "Notifier",
    "NotificationFilter",
    "NotificationResult",
    "get_notification_transport",
    "get_notification_listener",
    "get_batch_notification_listener",
    "DriverLoadFailure",
}


def test_all_is_the_curated_surface() -> None:
    assert set(rpc.__all__) == EXPECTED
    public = {name for name in vars(rpc) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(rpc, name)).__name__ == "module"}
    assert public - modules == EXPECTED


def test_errors_form_one_family() -> None:
    for name in EXPECTED:
        obj = getattr(rpc, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, rpc.MessagingException), name
    assert issubclass(rpc.InvalidTarget, ValueError)
    assert issubclass(rpc.NoSuchMethod, AttributeError)


def _modules() -> set[str]:
    found = {rpc.__name__}
    for info in pkgutil.walk_packages(rpc.__path__, prefix="aionova.rpc."):
        found.add(info.name)
    return found


def test_every_module_but_the_documented_ones_is_private() -> None:
    modules = _modules()
    assert modules >= PUBLIC_MODULES
    public = {m for m in modules if not any(p.startswith("_") for p in m.split("."))}
    assert public == PUBLIC_MODULES


def test_transport_exposes_no_internals() -> None:
    transport = rpc.get_rpc_transport("memory://public-api")
    public = {n for n in dir(transport) if not n.startswith("_")}
    assert public == TRANSPORT_PUBLIC
    assert not {"cast", "call", "driver", "replies", "send"} & public


def test_the_driver_seam_is_documented() -> None:
    assert {n for n in vars(seam) if n in SEAM} == SEAM
    doc = inspect.getdoc(seam) or ""
    for word in ("Contract", "send", "reply", "listen", "Delivery", "Listener", "MUST"):
        assert word in doc, word


async def test_get_rpc_client_takes_the_client_keywords(transport: rpc.Transport) -> None:
    params = inspect.signature(rpc.get_rpc_client).parameters
    assert list(params)[:2] == ["transport", "target"]
    assert CLIENT_OPTIONS | {"client_cls"} == set(params) - {"transport", "target"}
    assert set(inspect.signature(rpc.RPCClient).parameters) >= CLIENT_OPTIONS
    serializer = rpc.NoOpSerializer()
    options = rpc.TransportOptions(at_least_once=True)
    client = rpc.get_rpc_client(
        transport,
        rpc.Target(topic="t"),
        timeout=3,
        version_cap="4.0",
        serializer=serializer,
        retry=2,
        call_monitor_timeout=1.5,
        transport_options=options,
    )
    assert type(client) is rpc.RPCClient and client.target == rpc.Target(topic="t")
    assert (client.timeout, client.version_cap, client.retry) == (3, "4.0", 2)
    assert client.serializer is serializer and client.transport_options is options
    assert client.call_monitor_timeout == 1.5
    plain = rpc.RPCClient(transport, rpc.Target(topic="t"))  # direct construction stays
    assert plain.timeout is None and plain.version_cap is None


def test_get_rpc_client_rejects_unknown_keywords(transport: rpc.Transport) -> None:
    with pytest.raises(TypeError):
        rpc.get_rpc_client(transport, rpc.Target(topic="t"), timeout=1, executor="threading")
    with pytest.raises(TypeError):
        rpc.get_rpc_client(transport, rpc.Target(topic="t"), client_cls=dict)


def test_get_rpc_client_builds_a_subclass(transport: rpc.Transport) -> None:
    class ComputeClient(rpc.RPCClient):
        pass

    client = rpc.get_rpc_client(transport, rpc.Target(topic="t"), client_cls=ComputeClient)
    assert type(client) is ComputeClient


async def test_get_rpc_client_calls(transport: rpc.Transport, topic: str) -> None:
    endpoint = testing.RecordingEndpoint()
    async with rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="s"), [endpoint]):
        client = rpc.get_rpc_client(transport, rpc.Target(topic=topic), timeout=5)
        assert await client.call({}, "echo", value=[1, None]) == [1, None]
        await client.cast({}, "record", n=1)
        await endpoint.wait_for_calls(2)


def test_testing_kit_imports_without_pytest() -> None:
    """The kit's package is light; only ``DriverConformance`` brings pytest in."""
    code = (
        "import sys, aionova.rpc.testing as t\n"
        "assert 'pytest' not in sys.modules, 'pytest imported'\n"
        "assert t.CHECKS and t.check_driver and t.RecordingEndpoint\n"
        "t.DriverConformance\n"
        "assert 'pytest' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_testing_all_is_what_it_exports() -> None:
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
    with pytest.raises(AttributeError):
        testing.NoSuchHelper  # noqa: B018
