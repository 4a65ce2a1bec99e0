"""Notifications on the wire, as oslo.messaging writes and reads them.

The notifier builds the inner message ``{message_id, publisher_id, event_type,
priority, payload, timestamp}`` (``message_id`` a uuid4 string, ``priority``
upper case, ``timestamp`` ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC). The messaging
drivers add ``_unique_id`` and one ``_context_<key>`` per context entry, then
``messagingv2`` wraps the whole in the ``{"oslo.version": "2.0", "oslo.message":
"<json>"}`` envelope while ``messaging`` (format 1.0) sends it bare.

A listener accepts both forms. A body that is not JSON, not an object, a
broken envelope, or a message without a string ``event_type`` or with an
unknown ``priority`` raises ``MalformedMessage``; the listener logs it and
acknowledges it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import msgspec
from aionova.rpc import _envelope as envelope
from aionova.rpc.errors import MalformedMessage

#: The priorities, lower case, as endpoint methods are named (oslo's order).
PRIORITIES: Final = ("audit", "debug", "info", "warn", "error", "critical", "sample")
_VARIANT: Final = "89ab"  # RFC 4122 variant bits 10xx


class Notification(msgspec.Struct, frozen=True):
    """A received notification, as a listener hands it to endpoints."""

    ctxt: dict[str, Any]
    publisher_id: Any
    event_type: str
    priority: str  # lower case, one of PRIORITIES
    payload: Any
    metadata: dict[str, Any]


def timestamp(now: dt.datetime | None = None) -> str:
    """``str(utcnow())`` as oslo.messaging writes it, always with microseconds."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    return now.isoformat(" ", "microseconds")


def message_id() -> str:
    """A random (version 4) UUID string, from the envelope's pool of random ids."""
    h = envelope.new_id()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def build_message(
    publisher_id: str | None, event_type: str, priority: str, payload: Any
) -> dict[str, Any]:
    """The inner message (before the driver adds ``_unique_id`` and the context)."""
    return {
        "message_id": message_id(),
        "publisher_id": publisher_id,
        "event_type": event_type,
        "priority": priority,
        "payload": payload,
        "timestamp": timestamp(),
    }


def encode(message: dict[str, Any], ctxt: dict[str, Any], *, enveloped: bool) -> bytes:
    """The body a messaging driver publishes; raises ``MalformedMessage`` if unencodable."""
    full = dict(message)
    full["_unique_id"] = envelope.new_id()
    for key, value in ctxt.items():
        full[envelope.CONTEXT_PREFIX + key] = value
    if enveloped:
        return envelope.wrap(full)
    try:
        return msgspec.json.encode(full, enc_hook=_enc_hook)
    except (TypeError, OverflowError) as exc:
        raise MalformedMessage(f"cannot encode message: {exc}") from exc


def _enc_hook(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"cannot encode objects of type {type(obj).__name__}")


def decode(body: bytes) -> Notification:
    """Read a notification body (enveloped or not); raises ``MalformedMessage``."""
    message = envelope.unwrap(body)
    if "oslo.version" in message or "oslo.message" in message:
        raise MalformedMessage("broken envelope: needs both oslo.version and oslo.message")
    event_type = message.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedMessage("notification has no event_type")
    raw_priority = message.get("priority")
    if not isinstance(raw_priority, str) or not raw_priority:
        raise MalformedMessage(f"notification {event_type!r} has no priority")
    priority = raw_priority.lower()
    if priority not in PRIORITIES:
        raise MalformedMessage(f"notification {event_type!r} has unknown priority {raw_priority!r}")
    prefix = envelope.CONTEXT_PREFIX
    ctxt = {k[len(prefix) :]: v for k, v in message.items() if k.startswith(prefix)}
    return Notification(
        ctxt=ctxt,
        publisher_id=message.get("publisher_id"),
        event_type=event_type,
        priority=priority,
        payload=message.get("payload"),
        metadata={"message_id": message.get("message_id"), "timestamp": message.get("timestamp")},
    )
