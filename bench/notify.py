"""Notification benchmark: aionova's Notifier and listener beside oslo.messaging's, one broker.

    python -m bench.notify [--transport rabbit://guest:guest@127.0.0.1:5672/] [--quick]

Patterns per peer: ``send_seq`` (one sender, each ``info()`` confirmed by the
broker: latency), ``send`` (``--concurrency`` senders: tasks for aionova,
threads for oslo.messaging) and ``listen`` (a listener drains
``--backlog`` waiting notifications). Each peer runs in a fresh process,
peers alternate over ``--repeat`` rounds, figures are medians; compare the
ratios of one run, not absolute numbers (CPU µs per notification is the
steadiest figure on a shared machine). Prints a table, the ratios, then one
JSON line. Measured, not asserted. On ``memory://`` only aionova runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PEERS = ("aionova", "oslo.messaging")
PATTERNS = ("send_seq", "send", "listen")
DEFAULT_URL = os.environ.get("AIONOVA_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")


def _run_peer(peer: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cmd = [
        sys.executable,
        "-m",
        "bench._notify_peers",
        f"--peer={peer}",
        f"--transport={args.transport}",
        f"--seconds={args.seconds}",
        f"--warmup={args.warmup}",
        f"--concurrency={args.concurrency}",
        f"--backlog={args.backlog}",
        f"--payload-bytes={args.payload_bytes}",
    ]
    timeout = 4 * args.seconds + args.warmup + 600
    done = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"{peer} failed (exit {done.returncode})")
    rows: list[dict[str, Any]] = json.loads(lines[-1])
    return rows


def _aggregate(runs: dict[tuple[str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    merged = []
    for (peer, pattern), rows in runs.items():
        row: dict[str, Any] = {"peer": peer, "pattern": pattern}
        row["concurrency"] = rows[0]["concurrency"]
        for name in ("ops_per_s", "p50_ms", "p99_ms", "cpu_us_per_op", "broker_cpu_us_per_op"):
            values = [r[name] for r in rows if name in r]
            if values:
                row[name] = round(statistics.median(values), 4 if name.endswith("_ms") else 2)
        row["ops"] = sum(r["ops"] for r in rows)
        row["runs"] = len(rows)
        merged.append(row)
    order = {p: i for i, p in enumerate(PEERS)}
    return sorted(merged, key=lambda r: (PATTERNS.index(r["pattern"]), order[r["peer"]]))


def _ratios(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """aionova ÷ oslo.messaging per pattern (throughput), and oslo ÷ aionova CPU per op."""
    by = {(r["peer"], r["pattern"]): r for r in results}
    ratios = {}
    for pattern in PATTERNS:
        ours, theirs = by.get(("aionova", pattern)), by.get(("oslo.messaging", pattern))
        if not ours or not theirs or not theirs.get("ops_per_s"):
            continue
        entry = {"throughput": round(ours["ops_per_s"] / theirs["ops_per_s"], 2)}
        if ours.get("cpu_us_per_op") and theirs.get("cpu_us_per_op"):
            entry["cpu"] = round(theirs["cpu_us_per_op"] / ours["cpu_us_per_op"], 2)
        ratios[pattern] = entry
    return ratios


def _table(results: list[dict[str, Any]]) -> str:
    columns = [
        ("pattern", "pattern", "{}"),
        ("peer", "peer", "{}"),
        ("concurrency", "conc", "{}"),
        ("ops_per_s", "notifications/s", "{:,.0f}"),
        ("p50_ms", "p50 ms", "{:.3f}"),
        ("p99_ms", "p99 ms", "{:.3f}"),
        ("cpu_us_per_op", "CPU µs/notif", "{:.1f}"),
        ("broker_cpu_us_per_op", "broker µs", "{:.1f}"),
    ]
    cells = [[title for _, title, _ in columns]]
    for row in results:
        cells.append(
            [fmt.format(row[k]) if row.get(k) not in (None, 0.0) else "-" for k, _, fmt in columns]
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.notify", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--transport", default=DEFAULT_URL, help="rabbit://… (or memory://)")
    parser.add_argument("--seconds", type=float, default=2.0, help="per send pattern and round")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; figures are medians")
    parser.add_argument("--concurrency", type=int, default=16, help="senders of 'send'")
    parser.add_argument("--backlog", type=int, default=2000, help="notifications to 'listen' to")
    parser.add_argument("--payload-bytes", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="one short round (for tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.repeat, args.backlog = 0.3, 0.1, 1, 200
    args.peers = list(PEERS) if args.transport.startswith(("rabbit", "amqp")) else ["aionova"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for round_no in range(args.repeat):
        shift = round_no % len(args.peers)
        for peer in args.peers[shift:] + args.peers[:shift]:
            print(f"round {round_no + 1}/{args.repeat}: {peer} …", file=sys.stderr, flush=True)
            for row in _run_peer(peer, args):
                runs[(row["peer"], row["pattern"])].append(row)
    results = _aggregate(runs)
    ratios = _ratios(results)
    print(_table(results))
    print()
    for pattern, entry in ratios.items():
        cpu = f", CPU/notification {entry['cpu']}x less" if "cpu" in entry else ""
        print(f"{pattern}: aionova {entry['throughput']}x oslo.messaging's throughput{cpu}")
    report = {
        "bench": "notify",
        "transport": args.transport,
        "results": results,
        "ratios": ratios,
        "settings": {
            "seconds": args.seconds,
            "repeat": args.repeat,
            "concurrency": args.concurrency,
            "backlog": args.backlog,
            "payload_bytes": args.payload_bytes,
        },
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
