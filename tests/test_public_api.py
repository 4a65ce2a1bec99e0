"""The public surface of ``aionova.rpc`` is exactly its ``__all__``."""

from __future__ import annotations

from aionova import rpc

EXPECTED = {
    "Target",
    "get_rpc_transport",
    "Transport",
    "RPCClient",
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
