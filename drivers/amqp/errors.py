"""The one place aio-pika/aiormq exceptions become ``aionova.rpc`` errors.

Everything the AMQP libraries (or the socket under them) raise is either a
returned mandatory message (``MessageUndeliverable``) or a transport failure
(``TransportError``); the original is chained with ``from``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import aiormq.exceptions as amqp_exc
from aionova.rpc.errors import MessageUndeliverable, MessagingException, TransportError

#: Exceptions that mean "the connection or channel failed": retry after reconnecting.
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    amqp_exc.AMQPError,
    amqp_exc.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    TimeoutError,
    RuntimeError,  # aio-pika: "Connection was not opened", closed channel
)


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
    """The ``aionova.rpc`` error for a library exception (``MessagingException`` passes through)."""
    if isinstance(exc, MessagingException):
        return exc
    if isinstance(exc, asyncio.CancelledError):
        return TransportError(f"{what} failed: the connection was dropped (missed heartbeats?)")
    if isinstance(exc, amqp_exc.PublishError):
        return MessageUndeliverable(f"{what}: the broker returned the message (no queue bound)")
    return TransportError(f"{what} failed: {type(exc).__name__}: {exc}")


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
    except LIBRARY_ERRORS as exc:
        raise map_exception(exc, what) from exc
    except asyncio.CancelledError as exc:
        if not is_library_cancellation(exc):
            raise
        raise map_exception(exc, what) from exc
