"""``boot_storm --conductors N --schedulers M --via-api``: a replicated control plane of
real daemons (bench/_daemons.py) on a shared database and a (clustered) broker.

``--apis`` API processes (default 1), N conductors and M schedulers run as
``aionova ROLE --host … --config FILE``; the computes run in ``--compute-processes``
children (bench/_compute_host.py); the storm goes through the APIs over HTTP, spread
over them in turn. Per service: CPU seconds per boot (user + system of its processes
during the storm, from /proc). A multi-host transport URL gets the cluster options
(quorum queues, transient quorum queues, at-least-once) unless ``--no-quorum``. A
queue's type is fixed when first declared: switching ``--no-quorum`` on a broker
that holds the run's queues (``conductor``, ``scheduler`` …) needs them deleted
first (the conductors log the conflict and keep retrying).
``--profile ROLE`` runs that role's first process under cProfile and reports where
its time went.
"""

from __future__ import annotations

import asyncio
import io
import pstats
import resource
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aionova.db import Database
from bench._compute_host import Fleet, drop_exchange, private_url
from bench._daemons import ControlPlane, cpu_seconds, prepare_database
from bench._via_api import drive_http

CLUSTER_OPTIONS = {
    "rabbit_quorum_queue": "true",
    "rabbit_transient_quorum_queue": "true",
    "at_least_once": "true",
}


def cluster_url(url: str, quorum: bool | None) -> str:
    """``url`` with the cluster options (by default when it lists several hosts)."""
    parts = urlsplit(url)
    if quorum is None:
        quorum = "," in parts.netloc
    if not quorum:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    have = {k for k, _ in query}
    query += [(k, v) for k, v in CLUSTER_OPTIONS.items() if k not in have]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _sections(config: Any) -> dict[str, dict[str, Any]]:
    d = config.DEFAULT
    keep = (
        "report_interval",
        "service_down_time",
        "update_resources_interval",
        "periodic_fuzzy_delay",
        "rpc_response_timeout",
        "long_rpc_timeout",
    )
    return {"DEFAULT": {k: getattr(d, k) for k in keep}}


async def _settled_reader(database: str) -> tuple[Database, Any]:
    db = await Database(database).open()

    async def settled() -> dict[str, str]:
        states = await db.instance_states(None)
        return {
            u: vm for u, (vm, task) in states.items() if task is None and vm in ("active", "error")
        }

    return db, settled


def broker_pids(url: str) -> list[int]:
    """The local RabbitMQ nodes (``beam.smp``) serving the URL's loopback ports (the
    nodes of scripts/rabbitmq.sh, which names the port in the node's environment)."""
    ports = {h.rpartition(":")[2] for h in urlsplit(url).netloc.split(",") if "127.0.0.1" in h}
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"beam.smp" not in (proc / "cmdline").read_bytes():
                continue
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(f"RABBITMQ_NODE_PORT={port}".encode() in env for port in ports):
            pids.append(int(proc.name))
    return pids


def _cpu(plane: ControlPlane, fleet: Fleet, brokers: list[int]) -> dict[str, float]:
    cpu = plane.cpu_by_role()
    cpu["compute"] = sum(cpu_seconds(p.pid) for p in fleet.procs)
    cpu["rabbitmq"] = sum(cpu_seconds(pid) for pid in brokers)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu["bench_client"] = usage.ru_utime + usage.ru_stime
    return cpu


def _profile_report(path: Path, top: int = 12) -> list[str]:
    if not path.exists():
        return [f"no profile written at {path}"]
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return lines[-top:]


async def run_replicated(
    *,
    transport: str,
    database: str | None,
    computes: int,
    instances: int,
    concurrency: int,
    conductors: int,
    schedulers: int,
    apis: int,
    compute_processes: int,
    quorum: bool | None,
    profile: str | None,
    config: Any,
    flavor: Any,
    image: Any,
    overcommitted: Any,
) -> dict[str, Any]:
    url = private_url(cluster_url(transport, quorum))
    scratch = None
    if database and database.startswith("postgresql"):
        from aionova.db.postgres import create_scratch_schema

        # A schema of the run's own (dropped at the end), so no earlier run is counted.
        database = scratch = await create_scratch_schema(database, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database = database or f"sqlite:///{workdir / 'bench.sqlite'}"
        await prepare_database(database, [flavor], [image])
        plane = ControlPlane(workdir, url, database, _sections(config))
        fleet = Fleet(url, max(compute_processes, 1))
        profile_path = workdir / "profile.out"
        try:
            t0 = time.perf_counter()
            for role, count in (
                ("conductor", conductors),
                ("scheduler", schedulers),
                ("api", apis),
            ):
                for i in range(1, max(count, 1) + 1):
                    wrap = profile == role and i == 1
                    plane.start(role, f"{role}-{i}", profile=profile_path if wrap else None)
            await asyncio.to_thread(plane.wait_ready, 180.0)
            await fleet.start([f"cmp{i:05d}" for i in range(computes)], timeout=120 + computes)
            startup = time.perf_counter() - t0
            db, settled = await _settled_reader(database)
            try:
                brokers = broker_pids(url)
                cpu0, started = _cpu(plane, fleet, brokers), time.perf_counter()
                urls = [f"{api.url}/v2.1" for api in plane.of("api")]
                result = await drive_http(
                    urls, settled, flavor.flavorid, image.id, instances, concurrency, started, 900
                )
                seconds = time.perf_counter() - started
                cpu1 = _cpu(plane, fleet, brokers)
                over = await overcommitted(db, config)
                known = await db.instance_states(None)
                unsettled = result.pop("unsettled_ids")
                result["lost"] = sum(1 for u in unsettled if u not in known)
                result["stuck"] = len(unsettled) - result["lost"]
            finally:
                await db.close()
        finally:
            try:
                await fleet.stop()
            finally:
                fleet.kill_now()
                await asyncio.to_thread(plane.stop)
                await drop_exchange(url)
                if scratch:
                    from aionova.db.postgres import drop_scratch_schema

                    await drop_scratch_schema(scratch)
        report = _profile_report(profile_path) if profile else None
    per_boot = {
        f"cpu_s_per_boot_{role}": round((cpu1[role] - cpu0[role]) / instances, 4) for role in cpu1
    }
    return {
        "bench": "boot_storm",
        "transport": "rabbit",
        "hosts": urlsplit(transport).netloc.count(",") + 1,
        "via": "rest-api",
        "database": database.partition(":")[0] if "://" in database else "sqlite",
        "apis": max(apis, 1),
        "conductors": max(conductors, 1),
        "schedulers": max(schedulers, 1),
        "compute_processes": len(fleet.procs),
        "computes": computes,
        "instances": instances,
        "seconds": round(seconds, 2),
        "boots_per_s": round(instances / seconds, 1),
        "overcommitted_hosts": over,
        "startup_seconds": round(startup, 2),
        **result,
        **per_boot,
        **({"profile": {"role": profile, "top_tottime": report}} if report else {}),
    }
