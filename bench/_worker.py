"""One peer in a fresh process: ``client`` measures and prints a JSON line; ``server`` serves.

    python -m bench._worker client --peer aionova --transport memory:// --seconds 2
    python -m bench._worker server --peer ceiling --transport rabbit://… --loop uvloop

A rabbit client starts its peer's server as a child process, waits for its
READY line, and stops it by closing its stdin (so a server never outlives us).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from aionova import eventloop
from bench._drive import Plan, run_async, run_threads
from bench._stats import CpuMeter, Result, payload

PEERS = ("aionova", "ceiling", "ceiling-bare", "aio-pika-rpc", "oslo.messaging")
MEMORY_ONLY = ("ceiling-bare",)  # on rabbit the ceiling already sends bare bodies
RABBIT_ONLY = ("aio-pika-rpc",)


def _on_stdin_eof(callback: Callable[[], None]) -> None:
    def watch() -> None:
        sys.stdin.read()
        callback()

    threading.Thread(target=watch, daemon=True).start()


def _ready() -> None:
    print("READY", flush=True)


def serve(peer: str, url: str, loop: str) -> None:
    """Serve until stdin closes (asyncio peers on ``loop``)."""
    if peer == "oslo.messaging":
        from bench._oslo import serve_oslo

        done = threading.Event()
        _on_stdin_eof(done.set)
        serve_oslo(url, _ready, done)
        return
    from bench._peers_rabbit import serve_aionova, serve_aiopika_rpc, serve_ceiling

    servers = {
        "aionova": serve_aionova,
        "ceiling": serve_ceiling,
        "aio-pika-rpc": serve_aiopika_rpc,
    }

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.get_running_loop()
        _on_stdin_eof(lambda: running.call_soon_threadsafe(stop.set))
        await servers[peer](url, _ready, stop)

    eventloop.run(main(), loop)


def _start_server(peer: str, url: str, loop: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "bench._worker", "server", "--peer", peer, "--transport", url]
    cmd.append(f"--loop={loop}")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        raise RuntimeError(f"{peer} server did not start (exit {proc.wait()})")
    return proc


def _stop_server(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _measure_async(peer: Any, plan: Plan, meter: CpuMeter) -> list[Result]:
    await peer.start()
    try:
        return await run_async(peer, plan, meter)
    finally:
        await peer.close()


def measure(peer_name: str, url: str, plan: Plan, loop: str) -> list[Result]:
    """Run every pattern against one peer on ``url``, asyncio peers on ``loop``."""
    rabbit = not url.startswith("memory://")
    if rabbit and peer_name in MEMORY_ONLY:
        raise ValueError(f"peer {peer_name} runs on memory:// only")
    if not rabbit and peer_name in RABBIT_ONLY:
        raise ValueError(f"peer {peer_name} runs on rabbit:// only")
    server = _start_server(peer_name, url, loop) if rabbit else None
    meter = CpuMeter(server.pid if server else None, broker_url=url if rabbit else None)
    try:
        if peer_name == "oslo.messaging":
            from bench._oslo import OsloPeer

            oslo = OsloPeer(url if rabbit else "fake://")
            try:
                return run_threads(oslo, plan, meter)
            finally:
                oslo.close()
        if rabbit:
            from bench._peers_rabbit import AionovaRabbit, AioPikaRpc, CeilingRabbit

            kinds = {"aionova": AionovaRabbit, "ceiling": CeilingRabbit, "aio-pika-rpc": AioPikaRpc}
            peer: Any = kinds[peer_name](url)
        else:
            from bench._peers_memory import AionovaMemory, CeilingMemory

            if peer_name == "aionova":
                peer = AionovaMemory()
            else:
                peer = CeilingMemory(wire=peer_name == "ceiling")
        return eventloop.run(_measure_async(peer, plan, meter), loop)
    finally:
        if server is not None:
            _stop_server(server)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._worker")
    parser.add_argument("role", choices=("client", "server"))
    parser.add_argument("--peer", choices=PEERS, required=True)
    parser.add_argument("--transport", required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--payload-bytes", type=int, default=100)
    parser.add_argument("--concurrency", default="1,64,256")
    parser.add_argument("--cast-concurrency", type=int, default=64)
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--loop", choices=eventloop.LOOPS, default=eventloop.default_loop())
    args = parser.parse_args(argv)
    if args.role == "server":
        serve(args.peer, args.transport, args.loop)
        return
    plan = Plan(
        seconds=args.seconds,
        warmup=args.warmup,
        concurrency=tuple(int(c) for c in args.concurrency.split(",")),
        cast_concurrency=args.cast_concurrency,
        window=args.window,
        payload=payload(args.payload_bytes),
    )
    results = measure(args.peer, args.transport, plan, args.loop)
    print(json.dumps([r.to_json() for r in results]), flush=True)


if __name__ == "__main__":
    main()
