"""``python -m bench.notify --quick`` runs to the end and prints a well-formed JSON line.

Shape only: both peers, every pattern, figures positive. Speed is never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_bench(transport: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.notify", "--transport", transport, "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "notifications/s" in done.stdout.split("\n", 1)[0]  # the table comes first
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.rabbit
def test_notify_bench_quick(rabbit_url: str) -> None:
    report = run_bench(rabbit_url)
    assert report["bench"] == "notify" and report["transport"] == rabbit_url
    seen = {(r["peer"], r["pattern"]) for r in report["results"]}
    assert seen == {
        (peer, pattern)
        for peer in ("aionova", "oslo.messaging")
        for pattern in ("send_seq", "send", "listen")
    }
    for row in report["results"]:
        assert row["ops_per_s"] > 0 and row["cpu_us_per_op"] > 0, row
        if row["pattern"] != "listen":
            assert row["p99_ms"] >= row["p50_ms"] > 0, row
    assert set(report["ratios"]) == {"send_seq", "send", "listen"}


def test_notify_bench_memory_runs_aionova_only() -> None:
    report = run_bench("memory://bench-notify")
    assert {r["peer"] for r in report["results"]} == {"aionova"}
    assert {r["pattern"] for r in report["results"]} == {"send_seq", "send", "listen"}
    assert report["ratios"] == {}
