"""Wire messages and the codec: the only place messages become bytes.

Bodies follow oslo.messaging's envelope, so an oslo.messaging peer reads them:
``{"oslo.version": "2.0", "oslo.message": "<the message as a JSON string>"}``.
A request's message holds ``method``, ``args``, ``namespace``/``version`` when
set, ``_unique_id``, for calls ``_msg_id``/``_reply_q``/``_timeout``, and one
``_context_<key>`` per context entry. A reply's message holds ``result``,
``failure`` (a JSON string or null), ``ending``, ``_msg_id`` and ``_unique_id``.
Bodies without the envelope (plain JSON objects) are accepted as the message.

Values are encoded by msgspec: datetimes as ISO 8601 (oslo's own writer uses
``%Y-%m-%dT%H:%M:%S.%f``; both parse with ``oslo_utils.timeutils.parse_isotime``),
tuples and sets as lists, objects with ``to_dict()`` as that dict.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec
from aionova.rpc.errors import MalformedMessage

ENVELOPE_VERSION = "2.0"
CONTEXT_PREFIX = "_context_"
_HEAD = b'{"oslo.version": "2.0", "oslo.message": "'
_TAIL = b'"}'


class Envelope(msgspec.Struct):
    version: str = msgspec.field(name="oslo.version")
    message: str = msgspec.field(name="oslo.message")


class Request(msgspec.Struct):
    """A decoded request, transport keys split from the message."""

    method: str
    args: dict[str, Any]
    namespace: str | None
    version: str | None
    context: dict[str, Any]
    msg_id: str | None = None
    reply_q: str | None = None
    unique_id: str | None = None
    client_timeout: Any = None


class Reply(msgspec.Struct):
    """A decoded reply; ``ending`` false with no result is a heartbeat."""

    result: Any = None
    failure: str | None = None
    ending: bool = False
    msg_id: str | None = msgspec.field(default=None, name="_msg_id")


_id_pool: list[str] = []  # random ids drawn from the OS in blocks


def new_id() -> str:
    """A random 32-hex-digit id, shaped like ``uuid4().hex``.

    Ids are drawn from the OS 256 at a time, so there is no system call per
    message; they correlate replies and spot duplicates.
    """
    if not _id_pool:
        block = os.urandom(16 * 256).hex()
        _id_pool.extend(block[i : i + 32] for i in range(0, len(block), 32))
    return _id_pool.pop()


def _enc_hook(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"cannot encode objects of type {type(obj).__name__}")


#: Every way decoding untrusted bytes fails: msgspec's DecodeError and
#: ValidationError for bad JSON or a wrong shape, RecursionError for nesting
#: deeper than the interpreter's limit (``[[[[…]]]]``), MemoryError for values
#: that do not fit. Each means "this message is bad", never "the reader is broken".
DECODE_FAILURES: tuple[type[Exception], ...] = (msgspec.MsgspecError, RecursionError, MemoryError)
#: What encoding a value can raise: unsupported types, integers out of range,
#: nesting too deep.
_ENCODE_FAILURES = (TypeError, OverflowError, msgspec.EncodeError, RecursionError)

_encode = msgspec.json.Encoder(enc_hook=_enc_hook).encode
_decode_any = msgspec.json.Decoder().decode
_decode_envelope = msgspec.json.Decoder(Envelope).decode
_decode_reply = msgspec.json.Decoder(Reply).decode


def wrap(message: dict[str, Any]) -> bytes:
    """Encode a message dict inside the oslo envelope.

    The message is JSON-encoded, then that text is JSON-encoded as a string.
    """
    try:
        inner = _encode(message)
    except _ENCODE_FAILURES as exc:
        raise MalformedMessage(f"cannot encode message: {exc}") from exc
    return _HEAD + _encode(inner.decode())[1:-1] + _TAIL


def unwrap(body: bytes) -> dict[str, Any]:
    """Decode a body (enveloped or not) into its message dict; raises MalformedMessage."""
    try:
        envelope = _decode_envelope(body)
    except msgspec.ValidationError:
        message = _decode_plain(body)
    except msgspec.DecodeError as exc:
        raise MalformedMessage(f"body is not JSON: {exc}") from None
    except DECODE_FAILURES as exc:
        raise _undecodable("body", exc) from None
    else:
        if envelope.version != ENVELOPE_VERSION:
            raise MalformedMessage(f"unsupported envelope version {envelope.version!r}")
        message = _decode_plain(envelope.message)
    return message


def _undecodable(what: str, exc: BaseException) -> MalformedMessage:
    return MalformedMessage(f"{what} cannot be decoded: {type(exc).__name__}: {exc}")


def _decode_plain(data: bytes | str) -> dict[str, Any]:
    try:
        message = _decode_any(data)
    except msgspec.DecodeError as exc:
        raise MalformedMessage(f"message is not JSON: {exc}") from None
    except DECODE_FAILURES as exc:
        raise _undecodable("message", exc) from None
    if not isinstance(message, dict):
        raise MalformedMessage(f"message is a {type(message).__name__}, not an object")
    return message


def encode_request(
    method: str,
    args: dict[str, Any],
    context: dict[str, Any],
    *,
    namespace: str | None = None,
    version: str | None = None,
    msg_id: str | None = None,
    reply_q: str | None = None,
    call_monitor_timeout: float | None = None,
) -> bytes:
    """A request body; ``msg_id`` given means a call (adds the reply keys)."""
    message: dict[str, Any] = {"method": method, "args": args}
    if namespace is not None:
        message["namespace"] = namespace
    if version is not None:
        message["version"] = version
    if msg_id is not None:
        message["_msg_id"] = msg_id
        message["_reply_q"] = reply_q
        message["_timeout"] = call_monitor_timeout
    message["_unique_id"] = new_id()
    for key, value in context.items():
        message[CONTEXT_PREFIX + key] = value
    return wrap(message)


def decode_request(body: bytes) -> Request:
    """Split a request body into a Request; raises MalformedMessage."""
    message = unwrap(body)
    pop = message.pop
    method, args = pop("method", None), pop("args", None) or {}
    namespace, version = pop("namespace", None), pop("version", None)
    msg_id, reply_q = pop("_msg_id", None), pop("_reply_q", None)
    timeout, unique_id = pop("_timeout", None), pop("_unique_id", None)
    if (
        type(method) is not str
        or not method
        or type(args) is not dict
        or (namespace is not None and type(namespace) is not str)
        or (version is not None and type(version) is not str)
    ):
        _refuse(method, args, msg_id, reply_q)
    # What is left is the context (and keys we do not know, which are ignored).
    context = {k[9:]: v for k, v in message.items() if k[:9] == CONTEXT_PREFIX}
    context["client_timeout"] = timeout
    return Request(
        method, args, namespace, version, context, msg_id, reply_q, unique_id, timeout
    )  # fmt: skip


def _refuse(method: Any, args: Any, msg_id: Any, reply_q: Any) -> None:
    """Raise MalformedMessage for a request whose fields have the wrong shape."""
    if not isinstance(method, str) or not method:
        problem = "request has no method"
    elif not isinstance(args, dict):
        problem = "request args is not an object"
    else:
        problem = "request namespace and version must be strings"
    if isinstance(msg_id, str) and isinstance(reply_q, str):
        raise MalformedMessage(problem, msg_id=msg_id, reply_q=reply_q)
    raise MalformedMessage(problem)


def encode_reply(
    msg_id: str, *, result: Any = None, failure: str | None = None, ending: bool = True
) -> bytes:
    """A reply body; ``ending=False`` with no result and no failure is a heartbeat."""
    return wrap(
        {
            "result": result,
            "failure": failure,
            "ending": ending,
            "_msg_id": msg_id,
            "_unique_id": new_id(),
        }
    )


def decode_reply(body: bytes) -> Reply:
    """Decode a reply body; raises MalformedMessage."""
    try:
        envelope = _decode_envelope(body)
        return _decode_reply(envelope.message)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass  # not the usual shape: the slow path below says what is wrong
    except DECODE_FAILURES as exc:
        raise _undecodable("reply", exc) from None
    message = unwrap(body)
    try:
        return msgspec.convert(message, Reply)
    except msgspec.ValidationError as exc:
        raise MalformedMessage(f"bad reply: {exc}") from None
    except DECODE_FAILURES as exc:
        raise _undecodable("reply", exc) from None
