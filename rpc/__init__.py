"""aionova's asyncio RPC framework with oslo.messaging semantics.

Everything a service needs is importable from here; ``__all__`` is the public API.
The other public modules: ``aionova.rpc.errors`` (the same errors, by module),
``aionova.rpc.driver`` (the seam a transport implements, for driver authors) and
``aionova.rpc.testing`` (test aids and the driver conformance kit). Every other
module is private (underscored).
"""

from aionova.rpc._client import RPCClient, get_rpc_client
from aionova.rpc._endpoint import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
    expected_exceptions,
    expose,
)
from aionova.rpc._serializer import NoOpSerializer, Serializer
from aionova.rpc._server import RPCServer, get_rpc_server
from aionova.rpc._target import Target
from aionova.rpc._transport import (
    Transport,
    TransportOptions,
    TransportStatistics,
    get_rpc_transport,
)
from aionova.rpc.errors import (
    DriverLoadFailure,
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
from aionova.rpc.notify import (
    NotificationFilter,
    NotificationResult,
    Notifier,
    get_batch_notification_listener,
    get_notification_listener,
    get_notification_transport,
)

__all__ = [
    "DefaultRPCAccessPolicy",
    "DriverLoadFailure",
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
    "NotificationFilter",
    "NotificationResult",
    "Notifier",
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
    "TransportStatistics",
    "UnsupportedVersion",
    "expected_exceptions",
    "expose",
    "get_batch_notification_listener",
    "get_notification_listener",
    "get_notification_transport",
    "get_rpc_client",
    "get_rpc_server",
    "get_rpc_transport",
]
