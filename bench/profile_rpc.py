"""Where a call's CPU goes: client and server of one peer profiled over rabbit://.

    python -m bench.profile_rpc --transport rabbit://guest:guest@127.0.0.1:5672/ \\
        [--peer aionova|ceiling|aio-pika-rpc] [--calls 5000] [--concurrency 64] [--loop uvloop]
        [--profile] [--instructions]

Runs the peer's server in a child process and ``--calls`` calls at
``--concurrency`` in flight. Prints the CPU per call (user and system) of
client, server and broker, measured without the profiler; with ``--profile``
it runs again under cProfile on the process CPU clock (the profiler slows
Python down, so read its shares, not its times) and prints each side's CPU by
package (asyncio, aiormq, pamqp, the driver, the RPC layer …) and its top
functions. ``--instructions`` counts machine instructions per call instead,
repeatable on a busy machine: the whole run (client and server) twice under
valgrind's callgrind, with ``--calls`` and three times as many; the difference
divided by the extra calls is each side's count per call. A diagnostic, like
``bench.rpc``: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from aionova import eventloop
from bench._stats import broker_process, payload

REPO = Path(__file__).resolve().parents[1]
PEERS = ("aionova", "ceiling", "aio-pika-rpc")
_GROUPS = ("aio_pika", "aiormq", "pamqp", "msgspec", "uvloop", "asyncio", "selectors")


def _group(filename: str) -> str:
    """The package a profiled function belongs to."""
    for name in _GROUPS:
        if f"/{name}/" in filename or filename.endswith(f"/{name}.py"):
            return name
    for part, label in (("/drivers/", "aionova.drivers"), ("/rpc/", "aionova.rpc")):
        if part in filename:
            return label
    if "/bench/" in filename:
        return "bench"
    return "builtins" if filename.startswith("~") else "other"


def breakdown(path: str, top: int) -> str:
    """Self CPU by package, then the ``top`` functions, of one cProfile dump."""
    stats = pstats.Stats(path)
    by_group: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    table = stats.stats  # type: ignore[attr-defined]  # typeshed does not declare the table
    for (filename, line, name), row in table.items():
        self_time = row[2]
        by_group[_group(filename)] += self_time
        by_function[f"{name} ({Path(filename).name}:{line})"] += self_time
    total = sum(by_group.values()) or 1.0
    lines = ["  " + ", ".join(f"{g} {100 * t / total:.0f}%" for g, t in by_group.most_common())]
    lines += [f"  {100 * t / total:5.1f}% {f}" for f, t in by_function.most_common(top)]
    return "\n".join(lines)


def _servers() -> dict[str, Any]:
    from bench._peers_rabbit import serve_aionova, serve_aiopika_rpc, serve_ceiling

    return {"aionova": serve_aionova, "ceiling": serve_ceiling, "aio-pika-rpc": serve_aiopika_rpc}


def _clients() -> dict[str, Any]:
    from bench._peers_rabbit import AionovaRabbit, AioPikaRpc, CeilingRabbit

    return {"aionova": AionovaRabbit, "ceiling": CeilingRabbit, "aio-pika-rpc": AioPikaRpc}


def _run(coro: Any, loop: str, profile_to: str | None) -> Any:
    if profile_to is None:
        return eventloop.run(coro, loop)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        return eventloop.run(coro, loop)
    finally:
        profiler.disable()
        profiler.dump_stats(profile_to)


def serve(args: argparse.Namespace) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop()

        def watch() -> None:
            sys.stdin.read()
            running.call_soon_threadsafe(stop.set)

        threading.Thread(target=watch, daemon=True).start()
        await _servers()[args.peer](args.transport, lambda: print("READY", flush=True), stop)

    _run(main(), args.loop, args.profile_to)


async def _calls(args: argparse.Namespace, server_pid: int) -> dict[str, float]:
    peer = _clients()[args.peer](args.transport)
    await peer.start()
    data = payload(100)
    try:
        for _ in range(200):  # warm up
            await peer.call(data)
        left = args.calls

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await peer.call(data)

        me, server = psutil.Process(), psutil.Process(server_pid)
        broker = broker_process(args.transport)
        before = (me.cpu_times(), server.cpu_times(), broker.cpu_times() if broker else None)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
        after = (me.cpu_times(), server.cpu_times(), broker.cpu_times() if broker else None)
    finally:
        await peer.close()
    per_call = 1e6 / args.calls
    figures = {"calls_per_s": args.calls / elapsed}
    for side, b, a in zip(("client", "server", "broker"), before, after, strict=True):
        if a is not None and b is not None:
            figures[f"{side}_user_us"] = (a.user - b.user) * per_call
            figures[f"{side}_sys_us"] = (a.system - b.system) * per_call
    return figures


def measure(args: argparse.Namespace, profile_dir: str | None) -> dict[str, float]:
    cmd = [sys.executable, "-m", "bench.profile_rpc", "--serve", f"--peer={args.peer}"]
    cmd += [f"--transport={args.transport}", f"--loop={args.loop}"]
    if profile_dir:
        cmd.append(f"--profile-to={profile_dir}/server.prof")
    server = subprocess.Popen(
        cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        if server.stdout.readline().strip() != "READY":
            raise RuntimeError(f"{args.peer} server did not start")
        client_profile = f"{profile_dir}/client.prof" if profile_dir else None
        figures: dict[str, float] = _run(_calls(args, server.pid), args.loop, client_profile)
    finally:
        server.stdin.close()
        server.wait(60)
    return figures


def _callgrind_totals(args: argparse.Namespace, calls: int, tmp: str) -> dict[str, int]:
    """Instructions of the client and server processes of one run with ``calls`` calls."""
    out = f"{tmp}/run{calls}"
    cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes", f"--callgrind-out-file={out}.%p"]
    cmd += [sys.executable, "-m", "bench.profile_rpc", f"--transport={args.transport}"]
    cmd += [f"--peer={args.peer}", f"--calls={calls}", f"--concurrency={args.concurrency}"]
    cmd += [f"--loop={args.loop}"]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=3600)
    totals: dict[str, int] = {}
    for path in Path(tmp).glob(f"run{calls}.*"):
        text = path.read_text(errors="replace")
        command = re.search(r"^cmd:(.*)$", text, re.M)
        total = re.search(r"^totals: (\d+)", text, re.M)
        if command and total and "bench.profile_rpc" in command.group(1):
            totals["server" if "--serve" in command.group(1) else "client"] = int(total.group(1))
    return totals


def instructions(args: argparse.Namespace) -> dict[str, float]:
    """Instructions per call of each side (the difference of two runs)."""
    with tempfile.TemporaryDirectory() as tmp:
        short = _callgrind_totals(args, args.calls, tmp)
        long = _callgrind_totals(args, 3 * args.calls, tmp)
    return {side: (long[side] - short[side]) / (2 * args.calls) for side in short}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_rpc", description=__doc__)
    parser.add_argument("--transport", default="rabbit://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--peer", choices=PEERS, default="aionova")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--loop", choices=eventloop.LOOPS, default=eventloop.default_loop())
    parser.add_argument("--profile", action="store_true", help="also a cProfile breakdown")
    parser.add_argument("--top", type=int, default=15, help="functions listed per side")
    parser.add_argument(
        "--instructions", action="store_true", help="instructions per call (callgrind)"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args)
        return
    if args.instructions:
        counts = instructions(args)
        print(f"{args.peer} on {args.loop}, {args.concurrency} in flight, instructions per call:")
        for side, count in sorted(counts.items()):
            print(f"  {side:6} {count / 1000:8.0f}k")
        print(f"  total  {sum(counts.values()) / 1000:8.0f}k")
        return
    figures = measure(args, None)
    rate = figures["calls_per_s"]
    print(f"{args.peer} on {args.loop}, {args.concurrency} in flight: {rate:,.0f} calls/s")
    for side in ("client", "server", "broker"):
        if f"{side}_user_us" in figures:
            user, system = figures[f"{side}_user_us"], figures[f"{side}_sys_us"]
            total = user + system
            print(f"  {side:6} CPU per call: {total:6.1f} µs (user {user:.1f}, sys {system:.1f})")
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            measure(args, tmp)
            for side in ("client", "server"):
                print(f"{side} (cProfile, process CPU clock):")
                print(breakdown(f"{tmp}/{side}.prof", args.top))


if __name__ == "__main__":
    main()
