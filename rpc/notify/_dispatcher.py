"""Which endpoint methods a notification goes to, and what they answered.

An endpoint takes the priorities it has methods for (``info``, ``error`` …),
each ``(ctxt, publisher_id, event_type, payload, metadata)`` (batch endpoints:
one list of message dicts). Endpoints are called in order; one answering
``NotificationResult.REQUEUE`` (or raising, which is logged) stops the others
and asks for the message to be requeued. A ``filter_rule`` skips the endpoint
for notifications it does not match. Methods may be ``async def`` or plain.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from aionova.rpc._serializer import NoOpSerializer, Serializer
from aionova.rpc.notify._filter import NotificationFilter
from aionova.rpc.notify._wire import PRIORITIES, Notification

LOG = logging.getLogger(__name__)


class NotificationResult:
    """What an endpoint method may return (anything else counts as handled)."""

    HANDLED: Final = "handled"
    REQUEUE: Final = "requeue"


Callback = tuple[NotificationFilter | None, Callable[..., Any]]


def callbacks_by_priority(endpoints: Sequence[object]) -> dict[str, list[Callback]]:
    """Per lower-case priority, the ``(filter_rule, method)`` pairs, endpoint order kept."""
    found: dict[str, list[Callback]] = {}
    for endpoint in endpoints:
        screen = getattr(endpoint, "filter_rule", None)
        if screen is not None and not isinstance(screen, NotificationFilter):
            raise TypeError(
                f"'filter_rule' of {endpoint!r} must be a NotificationFilter, "
                f"not {type(screen).__name__}"
            )
        for priority in PRIORITIES:
            method = getattr(endpoint, priority, None)
            if callable(method):
                found.setdefault(priority, []).append((screen, method))
    return found


def message_dict(note: Notification, serializer: Serializer) -> dict[str, Any]:
    """What an endpoint sees of a notification (context and payload deserialized)."""
    ctxt = serializer.deserialize_context(note.ctxt)
    return {
        "ctxt": ctxt,
        "publisher_id": note.publisher_id,
        "event_type": note.event_type,
        "payload": serializer.deserialize_entity(ctxt, note.payload),
        "metadata": note.metadata,
    }


def _wanted(screen: NotificationFilter | None, note: Notification) -> bool:
    return screen is None or screen.match(
        note.ctxt, note.publisher_id, note.event_type, note.metadata, note.payload
    )


async def _run(callback: Callable[..., Any], *args: Any) -> Any:
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            result = await result
    except Exception:
        LOG.exception("Notification endpoint %s raised; the message counts as REQUEUE", callback)
        return NotificationResult.REQUEUE
    return result


class NotificationDispatcher:
    """Calls the endpoints of one notification's priority."""

    def __init__(self, endpoints: Sequence[object], serializer: Serializer | None = None) -> None:
        if serializer is not None and not isinstance(serializer, Serializer):
            # oslo.messaging's 4th positional parameter is ``executor``; aionova has none
            raise TypeError(
                f"serializer must be a Serializer, not {serializer!r} "
                "(there is no executor parameter: endpoints run on the event loop)"
            )
        self.endpoints = list(endpoints)
        self.serializer: Serializer = serializer or NoOpSerializer()
        self._callbacks = callbacks_by_priority(self.endpoints)

    @property
    def supported_priorities(self) -> list[str]:
        return [p for p in PRIORITIES if p in self._callbacks]

    async def dispatch(self, note: Notification) -> str:
        """``HANDLED`` or ``REQUEUE``."""
        callbacks = self._callbacks.get(note.priority)
        if not callbacks:
            LOG.warning("No endpoint takes %s (%s); dropped", note.priority, note.event_type)
            return NotificationResult.HANDLED
        message = message_dict(note, self.serializer)
        for screen, callback in callbacks:
            if not _wanted(screen, note):
                continue
            result = await _run(
                callback,
                message["ctxt"],
                message["publisher_id"],
                message["event_type"],
                message["payload"],
                message["metadata"],
            )
            if result == NotificationResult.REQUEUE:
                return NotificationResult.REQUEUE
        return NotificationResult.HANDLED


class BatchNotificationDispatcher(NotificationDispatcher):
    """Calls each endpoint method once per priority with the list of its messages."""

    async def dispatch_batch(self, notes: Sequence[Notification]) -> set[int]:
        """Indexes (into ``notes``) of the messages to requeue."""
        requeue: set[int] = set()
        for priority in PRIORITIES:
            group = [(i, n) for i, n in enumerate(notes) if n.priority == priority]
            if not group:
                continue
            callbacks = self._callbacks.get(priority)
            if not callbacks:
                LOG.warning("No endpoint takes priority %r; %d dropped", priority, len(group))
                continue
            messages = {i: message_dict(n, self.serializer) for i, n in group}
            for screen, callback in callbacks:
                chosen = [messages[i] for i, n in group if _wanted(screen, n)]
                if not chosen:
                    continue
                if await _run(callback, chosen) == NotificationResult.REQUEUE:
                    requeue.update(i for i, _ in group)
                    break
        return requeue
