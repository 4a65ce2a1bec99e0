"""aionova's asyncio RPC framework with oslo.messaging semantics.

Everything a user needs is importable from here; ``__all__`` is the public API.
"""

from rpc.client import RPCClient
from rpc.endpoint import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
    expected_exceptions,
    expose,
)
from rpc.errors import (
    ExpectedException,
    InvalidTarget,
    MalformedMessage,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingException,
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    RPCDispatcherError,
    RPCVersionCapError,
    TransportError,
    UnsupportedVersion,
)
from rpc.serializer import NoOpSerializer, Serializer
from rpc.server import RPCServer, get_rpc_server
from rpc.target import Target
from rpc.transport import Transport, TransportOptions, get_rpc_transport

__all__ = [
    "DefaultRPCAccessPolicy",
    "ExpectedException",
    "ExplicitRPCAccessPolicy",
    "InvalidTarget",
    "LegacyRPCAccessPolicy",
    "MalformedMessage",
    "MessageDeliveryFailure",
    "MessageUndeliverable",
    "MessagingException",
    "MessagingTimeout",
    "NoOpSerializer",
    "NoSuchMethod",
    "RPCAccessPolicyBase",
    "RPCClient",
    "RPCDispatcherError",
    "RPCServer",
    "RPCVersionCapError",
    "RemoteError",
    "Serializer",
    "Target",
    "Transport",
    "TransportError",
    "TransportOptions",
    "UnsupportedVersion",
    "expected_exceptions",
    "expose",
    "get_rpc_server",
    "get_rpc_transport",
]
