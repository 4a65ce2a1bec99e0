"""AMQP message properties out, and checks on the way in."""

from __future__ import annotations

import bz2
import zlib
from collections.abc import Callable, Mapping

from pamqp.commands import Basic

CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
PERSISTENT = 2

# kombu's compression header values (oslo.messaging's kombu_compression option).
_DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "application/x-gzip": zlib.decompress,
    "application/x-bz2": bz2.decompress,
}
_ENCODINGS = frozenset({None, "", "utf-8", "utf8", "binary"})


class BadMessage(Exception):
    """A delivery that cannot be handed on; the reason is the message."""


def properties(expiration: str | None = None) -> Basic.Properties:
    """What oslo.messaging (kombu) sets: JSON, UTF-8, persistent; TTL on calls only."""
    return Basic.Properties(
        content_type=CONTENT_TYPE,
        content_encoding=CONTENT_ENCODING,
        delivery_mode=PERSISTENT,
        expiration=expiration,
    )


def expiration_ms(timeout: float | None) -> str | None:
    """A call's timeout as the AMQP per-message TTL: milliseconds as a string."""
    if timeout is None:
        return None
    return str(max(int(timeout * 1000), 0))


def body_of(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    headers: Mapping[str, object] | None,
    max_size: int,
) -> bytes:
    """The JSON bytes of a delivery, or ``BadMessage`` saying why not."""
    if len(body) > max_size:
        raise BadMessage(f"message of {len(body)} bytes exceeds max_message_size={max_size}")
    if content_type != CONTENT_TYPE:
        raise BadMessage(f"unsupported content type {content_type!r}")
    if content_encoding not in _ENCODINGS:
        raise BadMessage(f"unsupported content encoding {content_encoding!r}")
    compression = (headers or {}).get("compression")
    if compression:
        decompress = _DECOMPRESSORS.get(str(compression))
        if decompress is None:
            raise BadMessage(f"unsupported compression {compression!r}")
        try:
            body = decompress(body)
        except (OSError, ValueError, zlib.error) as exc:
            raise BadMessage(f"cannot decompress ({compression}): {exc}") from exc
        if len(body) > max_size:
            raise BadMessage(f"decompressed message exceeds max_message_size={max_size}")
    return body
