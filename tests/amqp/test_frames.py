"""The hot path's frames are byte for byte what pamqp (aiormq's marshaller) writes."""

from __future__ import annotations

import pamqp.frame
import pytest
from aionova.drivers.amqp.frames import PublishFrames, ack, reject
from aionova.drivers.amqp.messages import properties
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.header import ContentHeader


def pamqp_publish(
    channel: int,
    exchange: str,
    key: str,
    mandatory: bool,
    props: Basic.Properties,
    body: bytes,
    frame_max: int,
) -> bytes:
    method = Basic.Publish(exchange=exchange, routing_key=key, mandatory=mandatory)
    out = pamqp.frame.marshal(method, channel)
    out += pamqp.frame.marshal(ContentHeader(0, len(body), props), channel)
    step = frame_max - 8
    for start in range(0, len(body), step):
        out += pamqp.frame.marshal(ContentBody(body[start : start + step]), channel)
    return out


@pytest.mark.parametrize(
    ("size", "frame_max"),
    [(0, 131072), (1, 131072), (600, 131072), (1000, 100), (920, 100), (131064, 131072)],
)
@pytest.mark.parametrize("mandatory", [False, True])
@pytest.mark.parametrize("expiration", [None, "60000"])
def test_publish_frames_match_pamqp(
    size: int, frame_max: int, mandatory: bool, expiration: str | None
) -> None:
    body = bytes(range(256)) * (size // 256 + 1)
    body = body[:size]
    frames = PublishFrames(7, frame_max)
    props = frames.properties(expiration, lambda: properties(expiration))
    ours = frames.publish("openstack", "topic.server-é", mandatory, props, body)
    theirs = pamqp_publish(
        7, "openstack", "topic.server-é", mandatory, properties(expiration), body, frame_max
    )
    assert ours == theirs


def test_properties_are_marshalled_once_per_key() -> None:
    frames = PublishFrames(1, 131072)
    made: list[str | None] = []

    def make() -> Basic.Properties:
        made.append("x")
        return properties("5")

    first = frames.properties("5", make)
    assert frames.properties("5", make) is first
    assert made == ["x"]


def test_a_name_longer_than_a_short_string_is_refused() -> None:
    frames = PublishFrames(1, 131072)
    with pytest.raises(ValueError, match="longer than 255 bytes"):
        frames.publish("", "k" * 256, False, b"\x00\x00", b"{}")


@pytest.mark.parametrize("multiple", [False, True])
def test_ack_matches_pamqp(multiple: bool) -> None:
    assert ack(3, 2**40 + 5, multiple) == pamqp.frame.marshal(Basic.Ack(2**40 + 5, multiple), 3)


@pytest.mark.parametrize("requeue", [False, True])
def test_reject_matches_pamqp(requeue: bool) -> None:
    assert reject(9, 12, requeue) == pamqp.frame.marshal(Basic.Reject(12, requeue), 9)
