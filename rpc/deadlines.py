"""Coarse timers for many short-lived deadlines.

Each outstanding call needs a deadline, and most are cancelled long before
they fire. One loop timer per call means a heap push and a lazy heap removal
per call; here deadlines that fall in the same tick (20 ms) share a single loop
timer and cancelling one is a set removal. A deadline fires at most one tick
late and never early.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

TICK = 0.02


class Deadline:
    __slots__ = ("arg", "callback", "slot")

    def __init__(self, slot: int, callback: Callable[[Any], None], arg: Any) -> None:
        self.slot, self.callback, self.arg = slot, callback, arg


class Deadlines:
    """A timer wheel on the running loop's clock."""

    def __init__(self, tick: float = TICK) -> None:
        self._tick = tick
        self._slots: dict[int, set[Deadline]] = {}
        self._handles: dict[int, asyncio.TimerHandle] = {}

    def add(self, delay: float, callback: Callable[[Any], None], arg: Any) -> Deadline:
        """Call ``callback(arg)`` about ``delay`` seconds from now (never sooner)."""
        loop = asyncio.get_running_loop()
        slot = math.ceil((loop.time() + max(delay, 0.0)) / self._tick)
        entries = self._slots.get(slot)
        if entries is None:
            entries = self._slots[slot] = set()
            self._handles[slot] = loop.call_at(slot * self._tick, self._fire, slot)
        entry = Deadline(slot, callback, arg)
        entries.add(entry)
        return entry

    def cancel(self, entry: Deadline) -> None:
        entries = self._slots.get(entry.slot)
        if entries is None:
            return
        entries.discard(entry)
        if not entries:
            del self._slots[entry.slot]
            self._handles.pop(entry.slot).cancel()

    def _fire(self, slot: int) -> None:
        self._handles.pop(slot, None)
        for entry in self._slots.pop(slot, ()):
            entry.callback(entry.arg)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        self._slots.clear()
