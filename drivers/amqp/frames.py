"""AMQP 0-9-1 frames for the hot path, as bytes: publish and ack.

aiormq builds every frame from pamqp objects (a ``Basic.Publish``, a
``ContentHeader`` with its ``Basic.Properties``, a ``ContentBody``), marshals
each property one by one and copies the result through a ``BytesIO``: about a
third of the CPU a small publish costs in Python. Here the parts that never
change between two messages of a kind are marshalled once (by pamqp, so the
bytes are pamqp's) and cached; a publish is then three ``struct.pack`` calls
and a ``join``. ``tests/amqp/test_frames.py`` checks the bytes against
pamqp's own marshalling.

Wire layout (AMQP 0-9-1 §4.2.3): ``type:u8 channel:u16 size:u32 payload
0xCE``. A publish is a method frame (class 60 method 40), a content header
(class 60, weight 0, body size, property flags and values) and the body in
frames of at most ``frame_max - 8`` bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pamqp.commands import Basic

FRAME_END = b"\xce"
FRAME_OVERHEAD = 8  # type, channel, size and the end octet
_METHOD, _HEADER, _BODY = 1, 2, 3
_BASIC = 60
_FRAME_HEAD = struct.Struct(">BHI")
_HEADER_HEAD = struct.Struct(">HHQ")  # class, weight, body size
_ACK = struct.Struct(">BHIHHQB")  # a whole Basic.Ack method frame, bar the end octet
_CACHE_LIMIT = 4096  # cached method frames / property blocks before the cache starts over


def _short_str(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError(f"AMQP short string longer than 255 bytes: {value[:40]!r}…")
    return bytes((len(raw),)) + raw


def _bounded(cache: dict[object, bytes], key: object, make: Callable[[], bytes]) -> bytes:
    value = cache.get(key)
    if value is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        value = cache[key] = make()
    return value


class PublishFrames:
    """Builds the frames of publishes on one channel (``frame_max`` as tuned)."""

    def __init__(self, channel: int, frame_max: int) -> None:
        self.channel = channel
        self._max_body = frame_max - FRAME_OVERHEAD
        self._methods: dict[object, bytes] = {}
        self._properties: dict[object, bytes] = {}

    def _method(self, exchange: str, routing_key: str, mandatory: bool) -> bytes:
        def make() -> bytes:
            payload = (
                struct.pack(">HHH", _BASIC, 40, 0)  # ticket 0
                + _short_str(exchange)
                + _short_str(routing_key)
                + (b"\x01" if mandatory else b"\x00")  # mandatory, not immediate
            )
            return _FRAME_HEAD.pack(_METHOD, self.channel, len(payload)) + payload + FRAME_END

        return _bounded(self._methods, (exchange, routing_key, mandatory), make)

    def properties(self, key: object, props: Callable[[], Basic.Properties]) -> bytes:
        """The marshalled property flags and values of ``props()``, cached under ``key``."""
        return _bounded(self._properties, key, lambda: props().marshal())

    def publish(
        self, exchange: str, routing_key: str, mandatory: bool, properties: bytes, body: bytes
    ) -> bytes:
        """Method frame, content header and body frames of one publish."""
        size = len(body)
        header = _HEADER_HEAD.pack(_BASIC, 0, size) + properties
        parts = [
            self._method(exchange, routing_key, mandatory),
            _FRAME_HEAD.pack(_HEADER, self.channel, len(header)),
            header,
            FRAME_END,
        ]
        step = self._max_body
        for start in range(0, size, step):
            chunk = body[start : start + step] if size > step else body
            parts += (_FRAME_HEAD.pack(_BODY, self.channel, len(chunk)), chunk, FRAME_END)
        return b"".join(parts)


def ack(channel: int, delivery_tag: int, multiple: bool = False) -> bytes:
    """A ``Basic.Ack`` method frame (class 60 method 80)."""
    return _ACK.pack(_METHOD, channel, 13, _BASIC, 80, delivery_tag, multiple) + FRAME_END


_REJECT = struct.Struct(">BHIHHQB")


def reject(channel: int, delivery_tag: int, requeue: bool) -> bytes:
    """A ``Basic.Reject`` method frame (class 60 method 90)."""
    return _REJECT.pack(_METHOD, channel, 13, _BASIC, 90, delivery_tag, requeue) + FRAME_END
