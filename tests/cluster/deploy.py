"""Replicated deployments for the multi-process tests: two of each control service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from aionova.config import Config, DefaultOpts
from aionova.db import Database
from bench._daemons import ControlPlane, prepare_database, rest

T = TypeVar("T")
CIRROS = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
TINY = "1"  # m1.tiny: 512 MB, 1 vCPU, 1 GB
#: What the daemons' fake hosts hold (aionova/cmd/services.py HOST_SIZE) and the
#: default allocation ratios: the limits no host may exceed.
HOST_LIMITS = (65536 * 1.5 - 512, 2000 * 1.0, 32 * 16.0)  # memory MB, disk GB, vCPUs


def fast_sections(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Short intervals, so liveness and recovery show within a test."""
    sections: dict[str, dict[str, Any]] = {
        "DEFAULT": {
            "report_interval": 1.0,
            "service_down_time": 8.0,
            "initial_report_delay": 0.0,
            "periodic_fuzzy_delay": 1.0,
            "rpc_response_timeout": 30.0,
        },
        "conductor": {"build_recovery_timeout": 0.0},
        "oslo_messaging_rabbit": {"at_least_once": True},
    }
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return sections


def start_replicated(
    workdir: Path,
    transport_url: str,
    database: str,
    *,
    computes: int = 3,
    sections: dict[str, dict[str, Any]] | None = None,
    tag: str = "r",
    env: dict[str, dict[str, str]] | None = None,
) -> ControlPlane:
    """Two APIs, two conductors, two schedulers and ``computes`` computes, all up
    (``env``: extra environment by role)."""
    env = env or {}
    plane = ControlPlane(workdir, transport_url, database, sections or fast_sections())
    plane.write_config()
    asyncio.run(prepare_database(database))
    try:
        for index in (1, 2):
            plane.start("conductor", f"{tag}-ctl-{index}", env=env.get("conductor", {}))
            plane.start("scheduler", f"{tag}-sch-{index}", env=env.get("scheduler", {}))
            plane.start("api", f"{tag}-api-{index}", env=env.get("api", {}))
        for index in range(1, computes + 1):
            plane.start("compute", f"{tag}-cmp-{index}", env=env.get("compute", {}))
        plane.wait_ready(timeout=180)
    except BaseException:
        plane.kill_all()
        raise
    return plane


def problems(plane: ControlPlane, last: int = 15) -> str:
    """What a failing cluster test shows: each daemon's last warnings and errors, and
    its requests that took over 5 s (the access line ends ``time: SECONDS``)."""
    out = []
    for daemon in plane.daemons:
        lines = daemon.log.read_text(errors="replace").splitlines()
        picked = [
            line[:300]
            for line in lines
            if " WARNING " in line or " ERROR " in line or _slow_request(line, 5.0)
        ]
        if picked:
            out.append(f"--- {daemon.host}\n" + "\n".join(picked[-last:]))
    return "\n".join(out)


def _slow_request(line: str, seconds: float) -> bool:
    head, sep, took = line.rpartition(" time: ")
    if not sep or "aionova.api.access" not in head:
        return False
    try:
        return float(took) > seconds
    except ValueError:
        return False


def running(plane: ControlPlane) -> Iterator[ControlPlane]:
    """Yield ``plane``; stop it after, every daemon ending cleanly and without traceback."""
    try:
        yield plane
    finally:
        codes = plane.stop()
    for daemon in plane.daemons:
        log = daemon.log.read_text()
        assert "Traceback" not in log, f"{daemon.host}:\n{log[-4000:]}"
    assert set(codes.values()) == {0}, codes


def boot(api_url: str, name: str, flavor: str = TINY, timeout: float = 30.0) -> str | None:
    """POST /servers; the new server's id (None when the API refused it)."""
    spec = {"name": name, "imageRef": CIRROS, "flavorRef": flavor, "networks": "none"}
    status, body = rest(api_url, "POST", "/servers", {"server": spec}, timeout=timeout)
    return str(body["server"]["id"]) if status == 202 else None


def wait_for(predicate: Callable[[], T | None], what: str, timeout: float = 120.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(0.5)


async def _states(database: str) -> dict[str, tuple[str, str | None]]:
    async with Database(database) as db:
        return await db.instance_states(None)


async def _usage(database: str) -> dict[str, tuple[int, int, int]]:
    async with Database(database) as db:
        return await db.instance_usage_by_host(None)


def states(database: str) -> dict[str, tuple[str, str | None]]:
    """uuid → (vm_state, task_state), read from the shared database."""
    return asyncio.run(_states(database))


def unsettled(database: str, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """The servers of ``ids`` not yet ACTIVE or ERROR with no task."""
    now = states(database)
    return {
        i: now.get(i, ("missing", None))
        for i in ids
        if now.get(i) not in (("active", None), ("error", None))
    }


def overcommitted(database: str) -> dict[str, tuple[int, int, int]]:
    """Hosts whose instances use more than the host may give (memory, disk, vCPUs)."""
    usage = asyncio.run(_usage(database))
    return {
        host: used
        for host, used in usage.items()
        if any(u > limit for u, limit in zip(used, HOST_LIMITS, strict=True))
    }


def config_for(sections: dict[str, dict[str, Any]]) -> Config:
    """The daemons' Config, for code the test runs itself (e.g. a stray API)."""
    return Config(DEFAULT=DefaultOpts(**{k: v for k, v in sections["DEFAULT"].items()}))
