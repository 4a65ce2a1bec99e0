"""Memory of a slow server under a burst of casts: bounded backlog or oslo's unbounded one.

    python -m bench.backlog --transport memory:// [--casts 100000] [--work 0.01]
    python -m bench.backlog --transport rabbit://guest:guest@127.0.0.1:5672/ [--unbounded]

One process: a client casts ``--casts`` messages as fast as it can (``--senders``
tasks at once) to a server
whose handler takes ``--work`` seconds (``max_concurrency`` 64), on separate
transports. Every 50 ms it samples the process's resident memory and how many
messages the server holds (its backlog and its running dispatches). Prints
the peak figures and last one JSON line. ``--unbounded`` serves with
``bounded_backlog=False`` (oslo.messaging's delivery: every message is taken
as it arrives). Measured, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from aionova import rpc

TOPIC = "bench_backlog"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class Slow:
    """The endpoint: ``note`` takes ``work`` seconds; ``reached(n)`` waits for n notes."""

    def __init__(self, work: float) -> None:
        self.work = work
        self.done = 0
        self._goal = 0
        self._reached = asyncio.Event()

    async def note(self, ctxt: dict[str, Any], data: str) -> None:
        await asyncio.sleep(self.work)
        self.done += 1
        if self.done >= self._goal:
            self._reached.set()

    async def reached(self, goal: int) -> None:
        self._goal = goal
        self._reached.clear()
        if self.done < goal:
            await self._reached.wait()


class Peaks:
    """The largest figures seen by the sampler."""

    def __init__(self) -> None:
        self.rss = 0
        self.held = 0
        self.backlog = 0

    def sample(self, server: rpc.RPCServer) -> None:
        backlog = len(server._backlog)
        self.backlog = max(self.backlog, backlog)
        self.held = max(self.held, backlog + len(server._tasks))
        self.rss = max(self.rss, rss_bytes())


async def sampler(server: rpc.RPCServer, peaks: Peaks) -> None:
    while True:
        peaks.sample(server)
        await asyncio.sleep(0.05)


def spread(total: int, senders: int) -> list[int]:
    """``total`` split over ``senders`` as evenly as possible."""
    share, extra = divmod(total, senders)
    return [share + (1 if n < extra else 0) for n in range(senders)]


async def sender(client: rpc.RPCClient, data: str, count: int) -> None:
    for _ in range(count):
        await client.cast({}, "note", data=data)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = args.transport
    if url.startswith("memory://"):
        url = f"memory://backlog-{os.urandom(4).hex()}"
    slow = Slow(args.work)
    options: dict[str, Any] = {"max_concurrency": 64}
    if args.unbounded:
        options["bounded_backlog"] = False
    async with rpc.get_rpc_transport(url) as server_side, rpc.get_rpc_transport(url) as client_side:
        target = rpc.Target(topic=TOPIC, server="s1")
        server = rpc.get_rpc_server(server_side, target, [slow], **options)
        client = rpc.RPCClient(client_side, rpc.Target(topic=TOPIC))
        await server.start()
        data = "x" * args.payload_bytes
        await client.cast({}, "note", data=data)  # connections and queues up first
        async with asyncio.timeout(60):
            await slow.reached(1)
        base = rss_bytes()
        peaks = Peaks()
        sampling = asyncio.create_task(sampler(server, peaks))
        start = time.perf_counter()
        try:
            await asyncio.gather(
                *(sender(client, data, n) for n in spread(args.casts, args.senders))
            )
            sent = time.perf_counter() - start
            async with asyncio.timeout(args.casts * args.work + 600):
                await slow.reached(args.casts + 1)
            elapsed = time.perf_counter() - start
        finally:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
            await server.stop()
            await server.wait(timeout=60)
    return {
        "transport": args.transport.split("://")[0],
        "mode": "unbounded" if args.unbounded else "bounded",
        "casts": args.casts,
        "work_s": args.work,
        "senders": args.senders,
        "sent_s": round(sent, 2),
        "elapsed_s": round(elapsed, 2),
        "rss_base_mb": round(base / 2**20, 1),
        "rss_growth_mb": round((peaks.rss - base) / 2**20, 1),
        "peak_backlog": peaks.backlog,
        "peak_held": peaks.held,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transport", default="memory://", help="memory:// or rabbit://…")
    parser.add_argument("--casts", type=int, default=100_000)
    parser.add_argument("--work", type=float, default=0.01, help="seconds per message")
    parser.add_argument("--payload-bytes", type=int, default=100)
    parser.add_argument("--senders", type=int, default=64, help="concurrent casting tasks")
    parser.add_argument("--unbounded", action="store_true", help="bounded_backlog=False")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    for key, value in result.items():
        print(f"{key:>14}  {value}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
