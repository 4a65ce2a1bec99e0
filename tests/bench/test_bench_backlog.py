"""``python -m bench.backlog`` runs to the end and reports what the server held."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.backlog", "--casts", "1000", "--work", "0.2", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(
    "transport", ["memory://", pytest.param("rabbit", marks=pytest.mark.rabbit)]
)
def test_bounded_and_unbounded(transport: str, request: pytest.FixtureRequest) -> None:
    if transport == "rabbit":
        transport = request.getfixturevalue("rabbit_url")
    bounded = run_bench("--transport", transport)
    assert bounded["mode"] == "bounded" and bounded["casts"] == 1000
    assert bounded["peak_held"] <= 64 and bounded["peak_backlog"] <= 64
    unbounded = run_bench("--transport", transport, "--unbounded")
    assert unbounded["mode"] == "unbounded" and unbounded["peak_held"] > 64
    for report in (bounded, unbounded):
        assert report["elapsed_s"] > 0 and report["rss_base_mb"] > 0
