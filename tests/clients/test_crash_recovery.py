"""Builds accepted just before a crash do not stay in BUILD (issue 11 item 6).

A real ``aionova all-in-one`` takes a burst of ``POST /servers`` and is killed with
SIGKILL at once (build casts still in memory, builds half done); restarted on the same
database, every server ends ACTIVE or ERROR within a bound.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.clients.conftest import Process, call, free_port, wait_http
from tests.conftest import database_for

CIRROS = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
BURST = 24
SETTLE_BOUND = 90.0
RECOVERY_ENV = {
    "AIONOVA_CONDUCTOR__BUILD_RECOVERY_TIMEOUT": "3",
    "AIONOVA_CONDUCTOR__RECOVERY_INTERVAL": "1",
}


def _start(tmp: Path, port: int, log: str, database: str) -> Process:
    args = ["all-in-one", "--port", str(port), "--database", database]
    args += ["--computes", "3", "--spawn-latency", "0.3"]
    proc = Process(args, tmp / log, env=RECOVERY_ENV)
    wait_http(f"http://127.0.0.1:{port}/v2.1")
    return proc


def _boot(base: str, index: int) -> str:
    spec = {"name": f"burst{index}", "imageRef": CIRROS, "flavorRef": "1", "networks": "none"}
    status, body = call(base, "POST", "/servers", {"server": spec})
    assert status == 202, body
    return str(body["server"]["id"])


def _view(base: str, ident: str) -> dict[str, Any]:
    status, body = call(base, "GET", f"/servers/{ident}")
    assert status == 200, (ident, body)
    server: dict[str, Any] = body["server"]
    return server


def test_builds_accepted_before_a_crash_settle_after_restart(tmp_path: Path) -> None:
    port = free_port()
    database = database_for(tmp_path)  # the restart finds what the crash left
    first = _start(tmp_path, port, "before.log", database)
    base = f"http://127.0.0.1:{port}"
    try:
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: _boot(base, i), range(BURST)))
    finally:
        first.kill()  # SIGKILL right after the last 202
    port = free_port()
    second = _start(tmp_path, port, "after.log", database)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SETTLE_BOUND
        while True:
            views = {i: _view(base, i) for i in ids}
            pending = {
                i: (v["status"], v["OS-EXT-STS:task_state"])
                for i, v in views.items()
                if v["status"] not in ("ACTIVE", "ERROR") or v["OS-EXT-STS:task_state"]
            }
            if not pending:
                break
            assert time.monotonic() < deadline, f"still not settled: {pending}"
            time.sleep(0.5)
        assert {v["status"] for v in views.values()} <= {"ACTIVE", "ERROR"}
    finally:
        rc = second.stop()
        log = (tmp_path / "after.log").read_text()
        assert "Traceback" not in log, log[-4000:]
        assert rc == 0, log[-2000:]
