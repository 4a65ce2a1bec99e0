"""The one place aio-pika/aiormq exceptions become ``aionova.rpc`` errors.

What the AMQP libraries (or the socket under them) raise when the connection
or a channel fails is either a returned mandatory message
(``MessageUndeliverable``) or a transport failure (``ConnectionLost``, a
``TransportError``); the original is chained with ``from``. Only those are
retried after reconnecting. Anything else (a ``TypeError``, a plain
``RuntimeError`` from a bug, a ``FileNotFoundError`` for a missing
certificate) is not a connection failure, and retrying it would loop forever
under ``retry=None``: it surfaces at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import aiormq.exceptions as amqp_exc
from aio_pika.abc import AbstractConnection
from aionova.rpc.errors import MessageUndeliverable, MessagingException, TransportError


class ConnectionLost(TransportError):
    """The connection or a channel failed; reconnecting and trying again may succeed."""


#: The connection-level errors: retried after reconnecting (the retry list).
#: aiormq raises its own ``AMQPError`` family when the broker closes the
#: connection or a channel, and wraps the socket errors of connecting and
#: reading as ``AMQPConnectionError`` (a ``ConnectionError``); errors of the
#: socket's writes reach pending operations unwrapped (``ConnectionResetError``,
#: ``BrokenPipeError``); ``TimeoutError`` is a bounded wait on the broker that
#: expired (aiormq's ``timeout=``, ours around connecting and declaring).
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    amqp_exc.AMQPError,
    amqp_exc.ChannelInvalidStateError,  # a RuntimeError: an operation on a closed channel
    ConnectionError,
    TimeoutError,
    ConnectionLost,  # ours, from the conditions below
)

#: Socket errors without a ``ConnectionError`` class of their own (a write on
#: a route that went away): connection-level too.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.ENETRESET,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENOTCONN,
        errno.ESHUTDOWN,
    }
)


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means "the connection or channel failed" (retry after reconnecting)."""
    if isinstance(exc, LIBRARY_ERRORS):
        return not isinstance(exc, amqp_exc.PublishError)  # returned: the connection is fine
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return True
    return is_library_cancellation(exc)


class _Closable(Protocol):
    @property
    def is_closed(self) -> bool: ...


@contextmanager
def lost_if_closed(*parts: _Closable) -> Iterator[None]:
    """Map the plain ``RuntimeError`` of a connection or channel that just closed.

    aio-pika refuses a channel on a closed connection with ``RuntimeError(
    "Connection was not opened")`` (or, for one whose connection closed under
    it, ``"Can't initialize closed channel"``), aiormq with
    ``RuntimeError("<Connection> closed")``. Such a RuntimeError means
    "connection lost" only while one of ``parts`` is indeed closed; any other
    RuntimeError is a bug and propagates.
    """
    try:
        yield
    except RuntimeError as exc:
        if isinstance(exc, amqp_exc.ChannelInvalidStateError):
            raise
        if not any(_is_closed(part) for part in parts):
            raise
        raise ConnectionLost(f"the connection or channel closed: {exc}") from exc


class _Closing(_Closable, Protocol):
    def close(self) -> Awaitable[Any]: ...


async def close_quietly(part: _Closing, timeout: float) -> None:
    """Close a channel or connection (bounded); one that is gone already is no error."""
    if part.is_closed:
        return
    with contextlib.suppress(*LIBRARY_ERRORS):
        async with asyncio.timeout(timeout):
            await part.close()


def _is_closed(part: _Closable) -> bool:
    """Closed, or an aio-pika connection whose aiormq connection the broker closed
    (aio-pika marks itself closed only when it is closed by us)."""
    if part.is_closed:
        return True
    if isinstance(part, AbstractConnection) and part.transport is not None:
        return part.transport.connection.is_closed
    return False


def being_cancelled() -> bool:
    """Whether someone is cancelling the current task (``Task.cancel``)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def is_library_cancellation(exc: BaseException) -> bool:
    """A ``CancelledError`` that aiormq handed to a task nobody is cancelling.

    When heartbeats stop, aiormq cancels its reader task and closes the
    connection with that task's ``CancelledError``, which every pending waiter
    (a publisher confirm, a declaration) then raises. For the waiting task it
    means "connection lost", not "you were cancelled".
    """
    return isinstance(exc, asyncio.CancelledError) and not being_cancelled()


def map_exception(exc: BaseException, what: str = "AMQP operation") -> MessagingException:
    """The ``aionova.rpc`` error for a library exception (``MessagingException`` passes through).

    Connection-level errors become ``ConnectionLost``; anything else a
    ``TransportError``, which is not retried.
    """
    if isinstance(exc, MessagingException):
        return exc
    if isinstance(exc, asyncio.CancelledError):
        return ConnectionLost(f"{what} failed: the connection was dropped (missed heartbeats?)")
    if isinstance(exc, amqp_exc.PublishError):
        return MessageUndeliverable(f"{what}: the broker returned the message (no queue bound)")
    kind = ConnectionLost if is_connection_error(exc) else TransportError
    return kind(f"{what} failed: {type(exc).__name__}: {exc}")


def is_returned(exc: BaseException) -> bool:
    """Whether the broker returned a mandatory message (unroutable)."""
    return isinstance(exc, amqp_exc.PublishError)


def is_precondition_failed(exc: BaseException) -> bool:
    """A 406 PRECONDITION_FAILED: a redeclare with different flags or arguments."""
    return isinstance(exc, amqp_exc.ChannelPreconditionFailed)


def is_durable_mismatch(exc: BaseException) -> bool:
    """A 406 whose reason is the ``durable`` flag (``inequivalent arg 'durable'``)."""
    return is_precondition_failed(exc) and "inequivalent arg 'durable'" in str(exc)


class DeclarationConflict(TransportError):
    """An exchange or queue exists with other flags or arguments (406 PRECONDITION_FAILED).

    Not a connection failure: redeclaring does not help until someone deletes
    the entity or the options match, so publishers do not retry it.
    """

    def __init__(self, kind: str, name: str, reason: BaseException) -> None:
        self.kind = kind
        self.name = name
        super().__init__(
            f"cannot declare {kind} {name!r}: it exists with other flags or arguments "
            f"({reason}); delete it or configure the same options as its other users"
        )


@contextmanager
def translated(what: str = "AMQP operation") -> Iterator[None]:
    """Re-raise library exceptions as ``aionova.rpc`` errors, chaining the original."""
    try:
        yield
    except (Exception, asyncio.CancelledError) as exc:
        ours = isinstance(exc, MessagingException)
        if ours or not (is_connection_error(exc) or is_returned(exc)):
            raise  # ours already, a bug, or someone cancelling us
        raise map_exception(exc, what) from exc
