"""The one family of RPC errors.

::

    MessagingException
    ├── MessagingTimeout               no final reply in time (or call-monitor silence)
    ├── InvalidTarget (ValueError)     no topic; call() on fanout; server without a server name
    ├── RPCVersionCapError             requested version not allowed by the client's cap
    ├── MessageDeliveryFailure         the transport could not publish after its retries
    │   └── MessageUndeliverable       the broker returned a mandatory message (no queue)
    ├── RemoteError                    the endpoint raised a type the client may not rebuild
    ├── ExpectedException              wrapper raised by @expected_exceptions
    ├── MalformedMessage               a body that is not a valid request or reply
    ├── TransportError                 a driver failure (connection lost), mapped
    ├── DriverLoadFailure (ValueError) an unknown notification driver name, or a transport
    │                                  that cannot carry notifications
    └── RPCDispatcherError
        ├── NoSuchMethod (AttributeError)
        └── UnsupportedVersion

Every error keeps its constructor's positional arguments in ``args`` and its
keyword arguments in ``kwargs``, so that ``type(e)(*e.args, **e.kwargs)``
rebuilds it exactly on the other side of the wire (see ``aionova.rpc._failures``).
"""

from __future__ import annotations

import sys
from typing import Any


class MessagingException(Exception):
    """Root of every error raised by the framework."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args)
        self.kwargs: dict[str, Any] = kwargs

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class MessagingTimeout(MessagingException):
    """No final reply arrived within the call's timeout."""


class InvalidTarget(MessagingException, ValueError):
    """The target cannot be used for this operation."""

    def __init__(self, msg: str, target: Any = None) -> None:
        super().__init__(msg)
        self.target = target

    def __str__(self) -> str:
        return f"{self.args[0]}: {self.target!r}" if self.target is not None else self.args[0]


class RPCVersionCapError(MessagingException):
    """The requested version is not compatible with the client's version cap."""

    def __init__(self, version: str | None, version_cap: str) -> None:
        super().__init__(version, version_cap)
        self.version = version
        self.version_cap = version_cap

    def __str__(self) -> str:
        return (
            f"Requested message version, {self.version} is incompatible.  It needs to be "
            "equal in major version and less than or equal in minor version as the "
            f"specified version cap {self.version_cap}."
        )


class MessageDeliveryFailure(MessagingException):
    """The transport gave up publishing a message."""


class MessageUndeliverable(MessageDeliveryFailure):
    """The broker could not route a mandatory message to any queue."""


class RemoteError(MessagingException):
    """The remote endpoint raised an exception the client does not rebuild."""

    def __init__(
        self, exc_type: str | None = None, value: str | None = None, traceback: Any = None
    ) -> None:
        super().__init__(exc_type, value, traceback)
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback

    def __str__(self) -> str:
        return f"Remote error: {self.exc_type} {self.value}\n{self.traceback}."


class ExpectedException(MessagingException):
    """Raised by ``expected_exceptions``; ``exc_info`` holds the original error."""

    def __init__(self) -> None:
        super().__init__()
        self.exc_info = sys.exc_info()


class RPCDispatcherError(MessagingException):
    """The server could not find an endpoint method for a request."""


class NoSuchMethod(RPCDispatcherError, AttributeError):
    """A compatible endpoint exists, but it has no such (allowed) method."""

    def __init__(self, method: str) -> None:
        super().__init__(method)
        self.method = method

    def __str__(self) -> str:
        return f"Endpoint does not support RPC method {self.method}"


class UnsupportedVersion(RPCDispatcherError):
    """No endpoint accepts the request's namespace and version."""

    def __init__(self, version: str, method: str | None = None) -> None:
        super().__init__(version, method=method)
        self.version = version
        self.method = method

    def __str__(self) -> str:
        return (
            f"Endpoint does not support RPC version {self.version}. Attempted method: {self.method}"
        )


class MalformedMessage(MessagingException):
    """A body that is not a valid message; ``msg_id``/``reply_q`` kept when readable."""


class TransportError(MessagingException):
    """A driver-level failure (connection lost, channel closed) mapped from its library."""


class DriverLoadFailure(MessagingException, ValueError):
    """A configuration names a driver that does not exist or cannot serve (oslo's name)."""
