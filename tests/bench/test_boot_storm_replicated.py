"""``bench.boot_storm --conductors 2 --schedulers 2 --via-api``: real daemons, a tiny storm.

Every field of the JSON line is there, every boot settled, none lost or stuck, no host
overcommitted, CPU per boot for each service, and the single-process baseline beside
it. Speed is never asserted. Needs ``bash scripts/rabbitmq.sh start``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEFAULT_RABBIT_URL

pytestmark = pytest.mark.rabbit
REPO = Path(__file__).resolve().parents[2]


def test_replicated_storm_reports_per_service_cost_and_the_baseline(
    rabbit_url: str, tmp_path: Path
) -> None:
    base = os.environ.get("AIONOVA_RABBIT_URL", DEFAULT_RABBIT_URL)
    url = f"{base}?control_exchange=bench_rep_{uuid.uuid4().hex[:8]}"
    database = f"sqlite:///{tmp_path / 'storm.sqlite'}"
    argv = [sys.executable, "-m", "bench.boot_storm", "--transport-url", url]
    argv += ["--database", database, "--conductors", "2", "--schedulers", "2", "--via-api"]
    argv += ["--computes", "4", "--compute-processes", "2", "--instances", "20"]
    argv += ["--concurrency", "10", "--profile", "conductor"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["conductors"], result["schedulers"], result["apis"]) == (2, 2, 1)
    assert (result["via"], result["database"], result["instances"]) == ("rest-api", "sqlite", 20)
    assert result["active"] + result["error"] == 20
    assert (result["lost"], result["stuck"], result["overcommitted_hosts"]) == (0, 0, 0)
    for role in ("api", "conductor", "scheduler", "compute"):
        assert result[f"cpu_s_per_boot_{role}"] >= 0
    assert result["cpu_s_per_boot_conductor"] > 0
    assert result["boots_per_s"] > 0 and result["launch_p99_ms"] >= result["launch_p50_ms"] > 0
    assert result["profile"]["role"] == "conductor" and result["profile"]["top_tottime"]
    baseline = result["baseline"]
    assert baseline["active"] + baseline["error"] == 20 and baseline["boots_per_s"] > 0


def test_replicated_storm_needs_a_broker_and_the_api() -> None:
    argv = [sys.executable, "-m", "bench.boot_storm", "--conductors", "2"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--conductors/--schedulers run daemons" in done.stderr
