"""Target is an immutable value (spec rpc.md §1)."""

from __future__ import annotations

import msgspec
import pytest
from aionova.rpc import Target


def test_equality_and_hash_agree() -> None:
    a = Target(topic="compute", server="h1", version="4.0")
    b = Target(topic="compute", server="h1", version="4.0")
    assert a == b and hash(a) == hash(b)
    assert a != Target(topic="compute", server="h2", version="4.0")
    assert Target(topic="") != Target(topic=None)
    assert len({a, b}) == 1


def test_is_immutable() -> None:
    target = Target(topic="t")
    with pytest.raises(AttributeError):
        target.topic = "u"  # type: ignore[misc]


def test_call_replaces_fields_and_none_clears() -> None:
    base = Target(exchange="x", topic="t", namespace="ns", version="1.0", server="s")
    assert base(server=None) == Target(exchange="x", topic="t", namespace="ns", version="1.0")
    assert base(version="1.1").version == "1.1"
    assert base() == base


def test_legacy_namespaces_are_not_carried_over() -> None:
    target = Target(namespace="new", legacy_namespaces=["old"])
    assert target.accepted_namespaces == ("new", "old")
    assert target(version="2.0").accepted_namespaces == ("new",)
    assert hash(target) == hash(Target(namespace="new", legacy_namespaces=("old",)))


def test_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError):
        Target(topic="t")(color="red")


def test_repr_lists_set_fields_in_order() -> None:
    assert repr(Target(topic="t", server="s", fanout=False)) == "<Target topic=t, server=s>"


def test_positional_arguments_follow_oslo_order() -> None:
    assert Target("ex", "topic") == Target(exchange="ex", topic="topic")
    assert msgspec.structs.asdict(Target())["legacy_namespaces"] is None
