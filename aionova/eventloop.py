"""The event loop the daemons and benchmarks run on: uvloop where installed.

uvloop (the ``[speed]`` extra) runs asyncio's loop on libuv: its loop turn,
transports and timers are C, which takes a good share of the CPU a message
costs in Python. Plain asyncio stays supported: ``loop="asyncio"`` (the
``aionova --loop`` option, ``bench.rpc --loop``) or a machine without uvloop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from importlib.util import find_spec
from typing import Any, Literal, TypeVar

T = TypeVar("T")
LoopName = Literal["uvloop", "asyncio"]
LOOPS: tuple[LoopName, ...] = ("uvloop", "asyncio")


def default_loop() -> LoopName:
    """``uvloop`` when it can be imported, else ``asyncio``."""
    return "uvloop" if find_spec("uvloop") is not None else "asyncio"


def resolve(loop: str | None = None) -> LoopName:
    """The loop to run: ``loop``, or ``default_loop()`` for None.

    Raises ValueError for an unknown name, and for ``uvloop`` when it is not
    installed (naming the extra that brings it).
    """
    if loop is None:
        return default_loop()
    if loop == "asyncio":
        return "asyncio"
    if loop != "uvloop":
        raise ValueError(f"unknown event loop {loop!r}; choose from {', '.join(LOOPS)}")
    if find_spec("uvloop") is None:
        raise ValueError(
            "the uvloop event loop needs the 'speed' extra: pip install 'aionova-openstack[speed]'"
        )
    return "uvloop"


def run(main: Coroutine[Any, Any, T], loop: str | None = None) -> T:
    """``asyncio.run(main)`` on ``loop`` (checked by ``resolve``; default: ``default_loop()``)."""
    try:
        name = resolve(loop)
    except ValueError:
        main.close()
        raise
    if name == "asyncio":
        return asyncio.run(main)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
