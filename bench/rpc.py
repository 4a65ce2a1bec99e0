"""RPC benchmark: aionova beside a no-framework ceiling and oslo.messaging, in one run.

    python -m bench.rpc --transport memory:// [--seconds S] [--payload-bytes N]
    python -m bench.rpc --transport rabbit://guest:guest@127.0.0.1:5672/ [--loop uvloop|asyncio]

Peers: aionova; ``ceiling``, plain asyncio futures with the same payload
encoded by msgspec and no framework (on ``memory://`` the very messages
aionova sends, oslo envelope included; on rabbit raw aio-pika); on
``memory://`` also ``ceiling-bare``, the payload alone without envelope,
context or ids; on rabbit aio-pika's own ``patterns.JsonRPC`` (``aio-pika-rpc``);
and oslo.messaging (``fake://`` or its rabbit driver). Every asyncio peer runs
on the same event loop, ``--loop`` (default: uvloop where installed).

Patterns: ``call_seq`` (sequential calls: latency), ``call`` at 1, 64 and 256
in flight, ``cast`` (until the server has processed them). Each peer runs in a
fresh process (on rabbit its server in another one), peers interleaved over
``--repeat`` rounds; each figure is the median over rounds. Compare ratios
within one run, not absolute numbers; CPU µs per operation is the steadiest
figure on a shared machine: the table gives it for the client, the server
and the broker (the RabbitMQ node serving ``--transport``, not the others
of the machine). Prints progress on stderr, a table and the targets (met or
not) on stdout, and last one JSON line. Measured, not asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from aionova import eventloop
from bench._worker import MEMORY_ONLY, PEERS, RABBIT_ONLY

REPO = Path(__file__).resolve().parents[1]
Key = tuple[str, str, int]
# per transport kind: (pattern, concurrency, what is compared, bound), aionova against
# the ceiling: "ops" (throughput, at least bound x), "cpu" (client + server CPU per
# operation, at most bound x), "p50" (median latency, at most bound x).
TARGETS = {
    "memory": [("call", 256, "ops", 0.70), ("cast", 64, "ops", 0.70)],
    # issue 15: past the hand-written aio-pika ceiling
    "rabbit": [
        ("call", 64, "ops", 1.3),
        ("call", 64, "cpu", 0.75),
        ("call_seq", 1, "p50", 0.9),
        ("cast", 64, "ops", 1.3),
    ],
}


def _run_worker(peer: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cmd = [
        sys.executable,
        "-m",
        "bench._worker",
        "client",
        f"--peer={peer}",
        f"--transport={args.transport}",
        f"--seconds={args.seconds}",
        f"--warmup={args.warmup}",
        f"--payload-bytes={args.payload_bytes}",
        f"--cast-concurrency={args.cast_concurrency}",
        f"--loop={args.loop}",
    ]
    timeout = 6 * args.seconds + args.warmup + 300
    done = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"{peer} worker failed (exit {done.returncode})")
    rows: list[dict[str, Any]] = json.loads(lines[-1])
    return rows


def _aggregate(runs: dict[Key, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Median of every numeric figure per (peer, pattern, concurrency), with ratios."""
    merged: dict[Key, dict[str, Any]] = {}
    for key, rows in runs.items():
        row = {"peer": key[0], "pattern": key[1], "concurrency": key[2]}
        numeric = sorted({k for r in rows for k, v in r.items() if isinstance(v, int | float)})
        for name in numeric:
            if name in ("concurrency", "seconds", "ops"):
                continue
            values = [r[name] for r in rows if name in r]
            if name in ("errors", "lost"):
                row[name] = sum(values)
            else:
                row[name] = round(statistics.median(values), 4 if name.endswith("_ms") else 2)
        row["ops"] = sum(r["ops"] for r in rows)
        row["runs"] = len(rows)
        merged[key] = row
    for (_, pattern, conc), row in merged.items():
        ceiling = merged.get(("ceiling", pattern, conc))
        if ceiling and ceiling["ops_per_s"] > 0 and row.get("cpu_us_per_op"):
            row["ratio_to_ceiling"] = round(row["ops_per_s"] / ceiling["ops_per_s"], 3)
            row["cpu_ratio_to_ceiling"] = round(ceiling["cpu_us_per_op"] / row["cpu_us_per_op"], 3)
        bare = merged.get(("ceiling-bare", pattern, conc))
        if bare and bare["ops_per_s"] > 0 and row is not bare:
            row["ratio_to_bare"] = round(row["ops_per_s"] / bare["ops_per_s"], 3)
    order = {p: i for i, p in enumerate(PEERS)}
    patterns = {"call_seq": 0, "call": 1, "cast": 2}
    return sorted(
        merged.values(),
        key=lambda r: (order[r["peer"]], patterns[r["pattern"]], r["concurrency"]),
    )


def _table(results: list[dict[str, Any]]) -> str:
    columns = [
        ("peer", "peer", "{}"),
        ("pattern", "pattern", "{}"),
        ("concurrency", "conc", "{}"),
        ("ops_per_s", "ops/s", "{:,.0f}"),
        ("p50_ms", "p50 ms", "{:.3f}"),
        ("p99_ms", "p99 ms", "{:.3f}"),
        ("cpu_us_per_op", "CPU µs/op", "{:.1f}"),
        ("server_cpu_us_per_op", "server µs", "{:.1f}"),
        ("broker_cpu_us_per_op", "broker µs", "{:.1f}"),
        ("ratio_to_ceiling", "ratio", "{:.2f}"),
        ("cpu_ratio_to_ceiling", "CPU ratio", "{:.2f}"),
        ("ratio_to_bare", "vs bare", "{:.2f}"),
    ]
    columns = [c for c in columns if any(c[0] in r for r in results)]
    cells = [[title for _, title, _ in columns]]
    for row in results:
        cells.append([fmt.format(row[k]) if k in row else "-" for k, _, fmt in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _targets(kind: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issues' targets for aionova: each a ratio to the ceiling and whether it is met."""
    by_key = {(r["peer"], r["pattern"], r["concurrency"]): r for r in results}
    verdicts = []
    for pattern, conc, what, bound in TARGETS[kind]:
        mine = by_key.get(("aionova", pattern, conc))
        ceiling = by_key.get(("ceiling", pattern, conc))
        if not mine or not ceiling:
            continue
        if what == "ops":
            ratio = mine["ops_per_s"] / ceiling["ops_per_s"] if ceiling["ops_per_s"] else 0.0
            verdict = {"target": f"{pattern}@{conc} ops/s >= {bound}x ceiling"}
            verdict["ratio"], verdict["met"] = round(ratio, 3), ratio >= bound
        else:
            key = "p50_ms" if what == "p50" else "cpu_us_per_op"
            label = "p50" if what == "p50" else "CPU/op (client+server)"
            ratio = mine[key] / ceiling[key] if ceiling.get(key) else float("inf")
            verdict = {"target": f"{pattern}@{conc} {label} <= {bound}x ceiling"}
            verdict["ratio"], verdict["met"] = round(ratio, 3), ratio <= bound
        verdicts.append(verdict)
    return verdicts


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rpc", description=__doc__.split("\n")[0])
    parser.add_argument("--transport", default="memory://", help="memory:// or rabbit://…")
    parser.add_argument("--seconds", type=float, default=2.0, help="per pattern and round")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of calls first")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; figures are medians")
    parser.add_argument("--payload-bytes", type=int, default=100)
    parser.add_argument("--cast-concurrency", type=int, default=64, help="cast senders")
    parser.add_argument("--peers", default=None, help="comma-separated subset")
    parser.add_argument("--quick", action="store_true", help="one short round (for tests)")
    parser.add_argument(
        "--loop",
        choices=eventloop.LOOPS,
        default=eventloop.default_loop(),
        help="the event loop of every asyncio peer (default: uvloop where installed)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.repeat = 0.3, 0.1, 1
    if args.peers is None:
        memory = args.transport.startswith("memory://")
        skip = RABBIT_ONLY if memory else MEMORY_ONLY
        args.peers = ",".join(p for p in PEERS if p not in skip)
    args.peers = [p for p in args.peers.split(",") if p]
    unknown = set(args.peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; choose from {PEERS}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    kind = "memory" if args.transport.startswith("memory://") else "rabbit"
    runs: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    failed = False
    for round_no in range(args.repeat):
        shift = round_no % len(args.peers)
        for peer in args.peers[shift:] + args.peers[:shift]:  # rotate to spread drift
            print(f"round {round_no + 1}/{args.repeat}: {peer} …", file=sys.stderr, flush=True)
            try:
                rows = _run_worker(peer, args)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"  {exc}; once more in 5 s", file=sys.stderr)  # e.g. a broker restart
                time.sleep(5)
                try:
                    rows = _run_worker(peer, args)
                except (RuntimeError, subprocess.TimeoutExpired) as again:
                    print(f"  {again}; {peer} skipped this round", file=sys.stderr)
                    failed = True
                    continue
            for row in rows:
                runs[(row["peer"], row["pattern"], row["concurrency"])].append(row)
    results = _aggregate(runs)
    verdicts = _targets(kind, results)
    print(_table(results))
    print()
    print(f"event loop: {args.loop}")
    for v in verdicts:
        print(f"target {v['target']}: {v['ratio']} → {'met' if v['met'] else 'NOT met'}")
    report = {
        "bench": "rpc",
        "transport": args.transport,
        "loop": args.loop,
        "ratios": {v["target"]: v["ratio"] for v in verdicts},
        "all_met": all(v["met"] for v in verdicts),
        "results": results,
        "targets": verdicts,
        "settings": {
            "seconds": args.seconds,
            "repeat": args.repeat,
            "payload_bytes": args.payload_bytes,
            "cast_concurrency": args.cast_concurrency,
        },
    }
    print(json.dumps(report), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
