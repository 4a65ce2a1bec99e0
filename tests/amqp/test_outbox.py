"""The Outbox joins the frames of a loop turn into one write, in order, and bounds a burst.

``Wire`` stands in for the two things of an aiormq connection the outbox
uses: its bounded ``write_queue`` and a writer task that takes what is queued,
reads ``payload`` and drains when asked (as aiormq's ``__writer`` does).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aionova.drivers.amqp.errors import ConnectionLost
from aionova.drivers.amqp.outbox import HIGH_WATER, Outbox


class Wire:
    def __init__(self, maxsize: int = 10) -> None:
        self.write_queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=maxsize)
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.writes: list[bytes] = []
        self.open = asyncio.Event()
        self.open.set()

    @property
    def is_closed(self) -> bool:
        return self.closed.done()

    @property
    def closing(self) -> asyncio.Future[None]:
        """As aiormq's: an observer of its own (cancelling it does not close)."""
        observer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed.add_done_callback(lambda _: observer.done() or observer.set_result(None))
        return observer

    async def writer(self) -> None:
        while True:
            await self.open.wait()
            frame = await self.write_queue.get()
            self.writes.append(frame.payload)
            if frame.should_drain:
                await asyncio.sleep(0)  # the socket took it
                frame.drain()


@pytest.fixture
async def wire() -> Any:
    w = Wire()
    task = asyncio.create_task(w.writer())
    yield w
    task.cancel()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_frames_of_one_turn_leave_in_one_write_in_order(wire: Wire) -> None:
    outbox = Outbox(wire)  # type: ignore[arg-type]
    for n in range(50):
        outbox.write(b"%d," % n)
    await settle()
    assert wire.writes == [b"".join(b"%d," % n for n in range(50))]
    outbox.write(b"next")  # the writer took the first cork: a new one
    await settle()
    assert wire.writes[1:] == [b"next"]


async def test_a_full_queue_keeps_the_cork_open_until_there_is_room(wire: Wire) -> None:
    wire.open.clear()  # the writer is busy elsewhere
    for _ in range(wire.write_queue.maxsize):
        wire.write_queue.put_nowait(_Frame(b"other"))
    outbox = Outbox(wire)  # type: ignore[arg-type]
    outbox.write(b"a")
    outbox.write(b"b")  # joins the waiting cork
    await settle()
    outbox.write(b"c")
    wire.open.set()
    await settle()
    assert wire.writes == [b"other"] * wire.write_queue.maxsize + [b"abc"]
    assert not wire.is_closed


async def test_writing_to_a_closed_connection_raises(wire: Wire) -> None:
    outbox = Outbox(wire)  # type: ignore[arg-type]
    wire.closed.set_result(None)
    with pytest.raises(ConnectionLost):
        outbox.write(b"x")


async def test_a_burst_past_the_high_water_mark_waits_for_the_socket(wire: Wire) -> None:
    wire.open.clear()
    outbox = Outbox(wire)  # type: ignore[arg-type]
    assert outbox.backlog() is None
    chunk = b"x" * (HIGH_WATER // 4)
    for _ in range(5):
        outbox.write(chunk)
    waiter = outbox.backlog()
    assert waiter is not None and not waiter.done()
    wire.open.set()
    async with asyncio.timeout(5):
        await waiter
    assert outbox.backlog() is None
    assert sum(map(len, wire.writes)) == 5 * len(chunk)


async def test_flush_waits_until_what_was_written_is_on_the_socket(wire: Wire) -> None:
    outbox = Outbox(wire)  # type: ignore[arg-type]
    outbox.write(b"last words")
    async with asyncio.timeout(5):
        await outbox.flush(5)
    assert wire.writes[0] == b"last words"


async def test_flush_gives_up_in_time_on_a_stuck_writer(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    wire.open.clear()
    outbox = Outbox(wire)  # type: ignore[arg-type]
    outbox.write(b"never written")
    async with asyncio.timeout(5):
        await outbox.flush(0.1)
    assert "not written within 0.1s" in caplog.text


class _Frame:
    should_close = False
    should_drain = False

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def drain(self) -> None:
        pass
