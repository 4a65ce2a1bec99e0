"""``aionova.eventloop``: uvloop by default where installed, plain asyncio on request."""

from __future__ import annotations

import asyncio

import pytest

from aionova import eventloop


async def loop_class() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default_where_installed() -> None:
    import uvloop  # the [speed] extra is part of [test]

    assert uvloop is not None
    assert eventloop.default_loop() == "uvloop"
    assert eventloop.resolve(None) == "uvloop"
    assert eventloop.run(loop_class()).startswith("uvloop")


def test_plain_asyncio_on_request() -> None:
    assert eventloop.run(loop_class(), "asyncio").startswith("asyncio")


def test_an_unknown_loop_is_refused_and_the_coroutine_closed() -> None:
    coro = loop_class()
    with pytest.raises(ValueError, match="unknown event loop 'trio'"):
        eventloop.run(coro, "trio")
    assert coro.cr_frame is None  # closed: no "never awaited" warning


def test_uvloop_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventloop, "find_spec", lambda name: None)
    assert eventloop.default_loop() == "asyncio"
    with pytest.raises(ValueError, match=r"aionova-openstack\[speed\]"):
        eventloop.resolve("uvloop")
