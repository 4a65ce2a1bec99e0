"""``python -m bench.rpc --quick`` runs to the end and prints a well-formed JSON line.

Shape only: every peer and pattern present, figures positive. Speed is never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PEERS = {"aionova", "ceiling", "oslo.messaging"}
MEMORY_PEERS = {*PEERS, "ceiling-bare"}
RABBIT_PEERS = {*PEERS, "aio-pika-rpc"}
#: issue 15's targets on rabbit://, each reported with its ratio and whether it is met.
RABBIT_TARGETS = {
    "call@64 ops/s >= 1.3x ceiling",
    "call@64 CPU/op (client+server) <= 0.75x ceiling",
    "call_seq@1 p50 <= 0.9x ceiling",
    "cast@64 ops/s >= 1.3x ceiling",
}
PATTERNS = {("call_seq", 1), ("call", 1), ("call", 64), ("call", 256), ("cast", 64)}


def run_bench(transport: str, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.rpc", "--transport", transport, "--quick", *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert "ops/s" in done.stdout.split("\n", 1)[0]  # the table comes first
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def check_shape(
    report: dict[str, Any], transport: str, peers: set[str], cpu_keys: set[str]
) -> None:
    assert report["bench"] == "rpc"
    assert report["transport"] == transport
    results = report["results"]
    seen = {(r["peer"], r["pattern"], r["concurrency"]) for r in results}
    assert seen == {(peer, *pattern) for peer in peers for pattern in PATTERNS}
    assert len(results) == len(seen)
    for row in results:
        for key in ("ops_per_s", "p50_ms", "p99_ms"):
            assert isinstance(row[key], int | float) and row[key] > 0, (row, key)
        # CPU time is read at the OS clock tick (10 ms): a quick round on a busy machine
        # may see no tick of another process, so a measured 0 is a figure, not an error.
        for key in cpu_keys:
            assert isinstance(row[key], int | float) and row[key] >= 0, (row, key)
        assert row["p99_ms"] >= row["p50_ms"]
        assert row.get("errors", 0) == row.get("lost", 0) == 0
    assert {t["target"] for t in report["targets"]}  # reported, never asserted
    for target in report["targets"]:
        assert isinstance(target["met"], bool) and target["ratio"] > 0, target
        assert report["ratios"][target["target"]] == target["ratio"]
    assert report["all_met"] == all(t["met"] for t in report["targets"])


def test_memory_bench_quick() -> None:
    report = run_bench("memory://")
    check_shape(report, "memory://", MEMORY_PEERS, {"cpu_us_per_op"})
    assert report["loop"] in ("uvloop", "asyncio")


@pytest.mark.rabbit
@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_rabbit_bench_quick(rabbit_url: str, loop: str) -> None:
    """Every peer on one event loop; CPU per operation of client, server and our broker."""
    url = rabbit_url
    report = run_bench(url, "--loop", loop)
    assert report["loop"] == loop
    keys = {"cpu_us_per_op", "client_cpu_us_per_op", "server_cpu_us_per_op", "broker_cpu_us_per_op"}
    check_shape(report, url, RABBIT_PEERS, keys)
    assert {t["target"] for t in report["targets"]} == RABBIT_TARGETS


def test_unknown_loop_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.rpc", "--transport", "memory://", "--loop", "trio"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "invalid choice: 'trio'" in done.stderr
