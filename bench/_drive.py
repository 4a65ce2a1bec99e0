"""Drive the patterns against one peer: asyncio tasks, or threads for blocking peers.

A peer offers ``call(data)``, ``cast(data)`` and ``stats()`` → ``[count, last]``
(casts processed by its server so far, and the monotonic time of the last one);
``tally`` is that counter itself when the server lives in this process, which
lets cast senders keep at most ``window`` casts unprocessed instead of queueing
a whole run's worth. Without it (server in another process) the broker queues
and the senders poll ``stats()`` at the end.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from bench._stats import AsyncTally, CpuMeter, Result, ThreadTally, summarize

DRAIN_TIMEOUT = 120.0
POLL_INTERVAL = 0.01


@dataclass(frozen=True)
class Plan:
    """What to measure: seconds per pattern, in-flight levels, cast senders and window."""

    seconds: float
    warmup: float
    concurrency: tuple[int, ...] = (1, 64, 256)
    cast_concurrency: int = 64
    window: int = 1024
    payload: str = ""


class AsyncPeer(Protocol):
    name: str
    tally: AsyncTally | None

    async def call(self, data: str) -> Any: ...
    async def cast(self, data: str) -> None: ...
    async def stats(self) -> list[float]: ...


class ThreadPeer(Protocol):
    name: str
    tally: ThreadTally | None

    def call(self, data: str) -> Any: ...
    def cast(self, data: str) -> None: ...
    def stats(self) -> list[float]: ...


def _finish(
    res: Result, meter: CpuMeter, before: tuple[float, float, float], errors: int
) -> Result:
    res.extra.update(meter.per_op(before, res.ops))
    if errors:
        res.extra["errors"] = errors
    return res


def _cast_result(
    name: str, plan: Plan, latencies: list[float], base: int, stats: list[float], t0: float
) -> Result:
    """Casts count once processed: ops/s is processed casts over the time to the last one."""
    count, last = int(stats[0]) - base, stats[1]
    res = summarize(name, "cast", plan.cast_concurrency, latencies, max(last - t0, 1e-9))
    if count < res.ops:
        res.extra["lost"] = res.ops - count
        res.ops = max(count, 0)
    return res


# -- asyncio -------------------------------------------------------------------


async def _async_calls(
    peer: AsyncPeer, pattern: str, conc: int, seconds: float, data: str, meter: CpuMeter
) -> Result:
    latencies: list[float] = []
    errors = 0
    clock = time.perf_counter

    async def worker(deadline: float) -> None:
        nonlocal errors
        call, record = peer.call, latencies.append
        while (start := clock()) < deadline:
            try:
                await call(data)
            except Exception:
                errors += 1
                continue
            record(clock() - start)

    before = meter.sample()
    t0 = clock()
    await asyncio.gather(*(worker(t0 + seconds) for _ in range(conc)))
    res = summarize(peer.name, pattern, conc, latencies, clock() - t0)
    return _finish(res, meter, before, errors)


async def _async_drain(peer: AsyncPeer, count: int) -> list[float]:
    """Wait until the server has processed ``count`` casts (or give up): its stats."""
    try:
        async with asyncio.timeout(DRAIN_TIMEOUT):
            if peer.tally is not None:
                await peer.tally.wait_for(count)
            else:  # the count lives in the server's process: poll it
                while (await peer.stats())[0] < count:  # noqa: ASYNC110
                    await asyncio.sleep(POLL_INTERVAL)
    except TimeoutError:
        pass
    return peer.tally.snapshot() if peer.tally is not None else await peer.stats()


async def _async_casts(peer: AsyncPeer, plan: Plan, meter: CpuMeter) -> Result:
    latencies: list[float] = []
    errors = 0
    clock = time.monotonic
    base = int((await peer.stats())[0])
    tally, window = peer.tally, plan.window

    async def worker(deadline: float) -> None:
        nonlocal errors
        cast, record = peer.cast, latencies.append
        while (start := clock()) < deadline:
            if tally is not None and base + len(latencies) - tally.count >= window:
                await tally.wait_for(base + len(latencies) - window // 2)
                continue
            try:
                await cast(plan.payload)
            except Exception:
                errors += 1
                continue
            record(clock() - start)

    before = meter.sample()
    t0 = clock()
    await asyncio.gather(*(worker(t0 + plan.seconds) for _ in range(plan.cast_concurrency)))
    stats = await _async_drain(peer, base + len(latencies))
    res = _cast_result(peer.name, plan, latencies, base, stats, t0)
    return _finish(res, meter, before, errors)


async def run_async(peer: AsyncPeer, plan: Plan, meter: CpuMeter) -> list[Result]:
    """Warm up, then call_seq, call at each concurrency, and cast."""
    if await peer.call(plan.payload) != plan.payload:
        raise RuntimeError(f"{peer.name}: echo returned something else")
    await _async_calls(peer, "warmup", 64, plan.warmup, plan.payload, meter)
    results = [await _async_calls(peer, "call_seq", 1, plan.seconds, plan.payload, meter)]
    for conc in plan.concurrency:
        results.append(await _async_calls(peer, "call", conc, plan.seconds, plan.payload, meter))
    results.append(await _async_casts(peer, plan, meter))
    return results


# -- threads -------------------------------------------------------------------


def _thread_calls(
    peer: ThreadPeer, pattern: str, conc: int, seconds: float, data: str, meter: CpuMeter
) -> Result:
    latencies: list[float] = []
    errors: list[int] = []
    clock = time.perf_counter
    gate = threading.Event()
    deadline = [0.0]

    def worker() -> None:
        gate.wait()
        call, record = peer.call, latencies.append
        while (start := clock()) < deadline[0]:
            try:
                call(data)
            except Exception:
                errors.append(1)
                continue
            record(clock() - start)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(conc)]
    for thread in threads:
        thread.start()
    before = meter.sample()
    t0 = clock()
    deadline[0] = t0 + seconds
    gate.set()
    for thread in threads:
        thread.join()
    res = summarize(peer.name, pattern, conc, latencies, clock() - t0)
    return _finish(res, meter, before, len(errors))


def _thread_drain(peer: ThreadPeer, count: int) -> list[float]:
    """Wait until the server has processed ``count`` casts (or give up): its stats."""
    if peer.tally is not None:
        peer.tally.wait_for(count, DRAIN_TIMEOUT)
        return peer.tally.snapshot()
    give_up = time.monotonic() + DRAIN_TIMEOUT
    while (stats := peer.stats())[0] < count and time.monotonic() < give_up:
        time.sleep(POLL_INTERVAL)
    return stats


def _thread_casts(peer: ThreadPeer, plan: Plan, meter: CpuMeter) -> Result:
    latencies: list[float] = []
    errors: list[int] = []
    clock = time.monotonic
    base = int(peer.stats()[0])
    tally, window = peer.tally, plan.window
    gate = threading.Event()
    deadline = [0.0]

    def worker() -> None:
        gate.wait()
        cast, record = peer.cast, latencies.append
        while (start := clock()) < deadline[0]:
            if tally is not None and base + len(latencies) - tally.count >= window:
                tally.wait_for(base + len(latencies) - window // 2, 1.0)
                continue
            try:
                cast(plan.payload)
            except Exception:
                errors.append(1)
                continue
            record(clock() - start)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(plan.cast_concurrency)]
    for thread in threads:
        thread.start()
    before = meter.sample()
    t0 = clock()
    deadline[0] = t0 + plan.seconds
    gate.set()
    for thread in threads:
        thread.join()
    stats = _thread_drain(peer, base + len(latencies))
    res = _cast_result(peer.name, plan, latencies, base, stats, t0)
    return _finish(res, meter, before, len(errors))


def run_threads(peer: ThreadPeer, plan: Plan, meter: CpuMeter) -> list[Result]:
    """The same patterns as ``run_async`` for a blocking peer, one thread per in-flight op."""
    if peer.call(plan.payload) != plan.payload:
        raise RuntimeError(f"{peer.name}: echo returned something else")
    _thread_calls(peer, "warmup", 64, plan.warmup, plan.payload, meter)
    results = [_thread_calls(peer, "call_seq", 1, plan.seconds, plan.payload, meter)]
    for conc in plan.concurrency:
        results.append(_thread_calls(peer, "call", conc, plan.seconds, plan.payload, meter))
    results.append(_thread_casts(peer, plan, meter))
    return results
