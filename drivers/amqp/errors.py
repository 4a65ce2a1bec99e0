"""The one place aio-pika/aiormq exceptions become ``rpc`` errors.

Everything the AMQP libraries (or the socket under them) raise is either a
returned mandatory message (``MessageUndeliverable``) or a transport failure
(``TransportError``); the original is chained with ``from``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiormq.exceptions as amqp_exc

from rpc.errors import MessageUndeliverable, MessagingException, TransportError

#: Exceptions that mean "the connection or channel failed": retry after reconnecting.
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    amqp_exc.AMQPError,
    amqp_exc.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    TimeoutError,
    RuntimeError,  # aio-pika: "Connection was not opened", closed channel
)


def map_exception(exc: BaseException, what: str = "AMQP operation") -> MessagingException:
    """The ``rpc`` error for a library exception (``MessagingException`` passes through)."""
    if isinstance(exc, MessagingException):
        return exc
    if isinstance(exc, amqp_exc.PublishError):
        return MessageUndeliverable(f"{what}: the broker returned the message (no queue bound)")
    return TransportError(f"{what} failed: {type(exc).__name__}: {exc}")


def is_returned(exc: BaseException) -> bool:
    """Whether the broker returned a mandatory message (unroutable)."""
    return isinstance(exc, amqp_exc.PublishError)


def is_precondition_failed(exc: BaseException) -> bool:
    """A 406 PRECONDITION_FAILED: a redeclare with different flags or arguments."""
    return isinstance(exc, amqp_exc.ChannelPreconditionFailed)


@contextmanager
def translated(what: str = "AMQP operation") -> Iterator[None]:
    """Re-raise library exceptions as ``rpc`` errors, chaining the original."""
    try:
        yield
    except LIBRARY_ERRORS as exc:
        raise map_exception(exc, what) from exc
