"""``python -m bench.keystone_latency`` runs against the real Keystone and prints a row
per mode. Speed is never asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.keystone import Keystone, keystone

__all__ = ["keystone"]
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.keystone
def test_keystone_latency_bench_runs(keystone: Keystone) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.keystone_latency", "--requests", "5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if "median" in line]
    labels = [row.split(" median")[0].strip() for row in rows]
    assert labels == [
        "noauth2",
        "keystone, cached token",
        "keystone, uncached token",
        "keystone, new token",
    ]
