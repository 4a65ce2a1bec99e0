"""Boot storm: N fake computes, M boots; how the control plane scales.

    python -m bench.boot_storm --computes 100 --instances 1000 [--notifications both]
    python -m bench.boot_storm --transport rabbit://guest:guest@127.0.0.1:5672/ \
        --computes 100 --instances 1000 --compute-processes 4
    python -m bench.boot_storm --database postgresql://aionova:aionova@127.0.0.1:55432/aionova
    python -m bench.boot_storm --database postgresql://aionova:aionova@127.0.0.1:55432/aionova \
        --transport-url "$(bash scripts/rabbitmq-cluster.sh url)" \
        --conductors 2 --schedulers 2 --compute-processes 4 --via-api

``--database`` is SQLite (a temporary file, the default) or a PostgreSQL URL (the run
gets a schema of its own there, dropped at the end); the JSON line names it.

On memory:// everything runs in one process. On rabbit:// the control services
(conductor, scheduler, the API with ``--via-api``) run in this process and the
computes in ``--compute-processes`` children (bench/_compute_host.py; 0 = here
too), all on a private ``control_exchange`` for the run. ``rpc_messages_per_boot``
sums, over every process, the messages sent during the storm (a cast 1, a call
2: request + reply; heartbeats included); ``peak_rss_mb`` sums every process's
peak RSS. Prints a progress bar on stderr, a table, then one JSON line on stdout.
Measured, not asserted.

With ``--conductors``/``--schedulers`` the control plane is replicated: real
daemons on a shared database (``--database``, a SQLite file by default), see
bench/_replicated.py; the JSON line then also holds, under ``baseline``, the
single-process SQLite run (memory://, through the REST API) of the same storm.

``--notifications off|unversioned|versioned|both`` sets ``[notifications]
notification_format`` (``off``: ``[oslo_messaging_notifications] driver = []``).
The default is ``off``, so a default run measures what it measured before the
control plane emitted notifications; ``notifications_per_boot`` counts what every
process sent. Nobody consumes them: on memory:// they wait on the bus until the
end, on rabbit:// in queues of the run's own topics, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aionova.api.compute import API
from aionova.config import Config, DefaultOpts
from aionova.context import RequestContext
from aionova.deployment import AllInOne
from aionova.notifications import NotificationsOpts, OsloMessagingNotificationsOpts
from aionova.notifications.settings import NotificationDriverName
from aionova.objects import Flavor, ImageMeta, ObjectStore
from aionova.service import tune_gc
from aionova.utils import best_effort
from aionova.virt.fake import FakeDriver

FLAVOR = Flavor(flavorid="bench", name="bench.small", memory_mb=1024, vcpus=1, root_gb=10)
IMAGE = ImageMeta(id="bench-image", name="bench")
HOST = dict(vcpus=16, memory_mb=16384, local_gb=1000)  # 23 bench.small per host at ratio 1.5


NOTIFICATIONS = ("off", "unversioned", "versioned", "both")


def _config(notifications: str = "off", topics_prefix: str = "") -> Config:
    """The storm's settings; ``topics_prefix`` gives the notifications topics of their own."""
    driver: list[NotificationDriverName] = [] if notifications == "off" else ["messagingv2"]
    fmt = "unversioned" if notifications == "off" else notifications
    return Config(
        DEFAULT=DefaultOpts(
            host="control",
            report_interval=10.0,
            service_down_time=60.0,
            update_resources_interval=60.0,
            periodic_fuzzy_delay=60.0,
            rpc_response_timeout=120.0,
            long_rpc_timeout=600.0,
        ),
        notifications=NotificationsOpts(
            notification_format=fmt,  # type: ignore[arg-type]
            versioned_notifications_topics=[f"{topics_prefix}versioned_notifications"],
        ),
        oslo_messaging_notifications=OsloMessagingNotificationsOpts(
            driver=driver, topics=[f"{topics_prefix}notifications"]
        ),
    )


def notification_queues(config: Config) -> list[str]:
    """The queues the notifiers of ``config`` declare (``<topic>.<priority>``)."""
    topics = [
        *config.oslo_messaging_notifications.topics,
        *config.notifications.versioned_notifications_topics,
    ]
    return [f"{topic}.{priority}" for topic in topics for priority in ("info", "error")]


def _notified(cloud: AllInOne) -> int:
    """Notifications this process's services handed to the transport so far."""
    services = [cloud.conductor, cloud.scheduler, *cloud.computes.values()]
    sent = sum(s.manager.notifier.emitter.sent for s in services if s is not None)
    return sent + (cloud.api.notifier.emitter.sent if cloud.api is not None else 0)


def _sent(cloud: AllInOne) -> int:
    """Messages this process's services sent so far (requests and replies)."""
    assert cloud.transport is not None
    return cloud.transport.statistics().messages_sent


async def _counts(cloud: AllInOne) -> tuple[int, int]:
    """(ACTIVE, ERROR) instances with no task left."""
    states = (await cloud.db.instance_states(None)).values()
    settled = [vm for vm, task in states if task is None]
    return settled.count("active"), settled.count("error")


async def _overcommitted(cloud: AllInOne, config: Config) -> int:
    return await overcommitted_hosts(cloud.db, config)


async def overcommitted_hosts(db: ObjectStore, config: Config) -> int:
    """Hosts whose live instances use more than a HOST may give at the config's ratios."""
    d = config.DEFAULT
    limits = (
        HOST["memory_mb"] * d.ram_allocation_ratio - d.reserved_host_memory_mb,
        HOST["local_gb"] * d.disk_allocation_ratio,
        HOST["vcpus"] * d.cpu_allocation_ratio,
    )
    usage = (await db.instance_usage_by_host(None)).values()
    return sum(1 for used in usage if any(u > limit for u, limit in zip(used, limits, strict=True)))


async def _drive(
    cloud: AllInOne,
    api: API,
    ctxt: RequestContext,
    instances: int,
    concurrency: int,
    started: float,
) -> tuple[int, int]:
    """Keep ``concurrency`` boots in flight (created, not yet ACTIVE/ERROR) until all settle."""
    created, active, error = 0, 0, 0
    creators: set[asyncio.Task[object]] = set()
    last_poll = 0.0
    while active + error < instances:
        while created < instances and created - (active + error) < concurrency:
            task = asyncio.create_task(api.create(ctxt, FLAVOR.flavorid, IMAGE.id))
            creators.add(task)
            task.add_done_callback(creators.discard)
            created += 1
        await asyncio.sleep(0.05)
        if time.perf_counter() - last_poll >= 0.2:
            last_poll = time.perf_counter()
            active, error = await _counts(cloud)
            _progress(active + error, instances, active, error, started)
    await asyncio.gather(*creators)
    sys.stderr.write("\n")
    return active, error


def _progress(done: int, total: int, active: int, error: int, started: float) -> None:
    width = 40
    filled = width * done // max(total, 1)
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
        f"active={active} error={error} {rate:.0f}/s"
    )
    sys.stderr.flush()


async def run(
    computes: int,
    instances: int,
    transport: str | None,
    concurrency: int,
    via_api: bool = False,
    compute_processes: int = 0,
    database: str | None = None,
    notifications: str = "off",
) -> dict:
    config = _config(notifications)
    fleet, private = None, None
    remote = bool(transport) and not str(transport).startswith("memory:")
    if transport and remote:
        from bench._compute_host import Fleet, drop_exchange, private_url, run_label

        url = private_url(transport)
        private = url if url != transport else None  # an exchange of ours: dropped at the end
        transport = url
        config = _config(notifications, f"{run_label(url)}_")  # queues of the run's own
        fleet = Fleet(transport, compute_processes, notifications) if compute_processes else None
    with tempfile.TemporaryDirectory() as tmp:
        scratch = None
        if database and "://" in database and not database.startswith("sqlite:"):
            from aionova.db.postgres import create_scratch_schema

            scratch = await create_scratch_schema(database, "bench")
        db_url = scratch or database or str(Path(tmp) / "bench.sqlite")
        cloud = AllInOne(config, db_url, transport_url=transport)
        await cloud.start()
        try:
            await cloud.db.flavor_create(None, FLAVOR)
            await cloud.db.image_create(None, IMAGE)
            t0 = time.perf_counter()
            if fleet is not None:
                hosts = [f"cmp{i:05d}" for i in range(computes)]
                await fleet.start(hosts, timeout=120 + computes)
            for start in range(0, computes if fleet is None else 0, 100):
                await asyncio.gather(
                    *(
                        cloud.add_compute(f"cmp{i:05d}", FakeDriver(**HOST))
                        for i in range(start, min(start + 100, computes))
                    )
                )
            startup = time.perf_counter() - t0
            assert cloud.api is not None
            api, ctxt = cloud.api, RequestContext(user_id="bench", project_id="bench")
            sent0 = _sent(cloud) + (await fleet.messages_sent() if fleet else 0)
            notified0 = _notified(cloud) + (await fleet.notifications_sent() if fleet else 0)
            started = time.perf_counter()
            extra: dict = {}
            if via_api:
                from bench._via_api import drive_via_api

                extra = await drive_via_api(
                    cloud, FLAVOR.flavorid, IMAGE.id, instances, concurrency, started
                )
                active, error = extra.pop("active"), extra.pop("error")
            else:
                active, error = await _drive(cloud, api, ctxt, instances, concurrency, started)
            seconds = time.perf_counter() - started
            messages = _sent(cloud) - sent0
            messages += await fleet.messages_sent() if fleet else 0
            await _flush_notifications(cloud)
            notified = _notified(cloud) - notified0
            notified += await fleet.notifications_sent() if fleet else 0
            overcommitted = await _overcommitted(cloud, config)
        finally:
            try:
                if fleet is not None:
                    await fleet.stop()  # computes first: their builds need the conductor
            finally:
                if fleet is not None:
                    fleet.kill_now()  # only if stop() was cut short
                await cloud.stop()
                if remote:
                    queues = notification_queues(config)
                    await drop_exchange(transport, queues, exchange=private is not None)
                if scratch:
                    from aionova.db.postgres import drop_scratch_schema

                    await drop_scratch_schema(scratch)
    children_rss = sum(fleet.peak_rss_mb.values()) if fleet else 0.0
    own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "bench": "boot_storm",
        "transport": (transport or "memory://").split(":")[0],
        "via": "rest-api" if via_api else "python-api",
        "database": "postgresql" if scratch else "sqlite",
        "computes": computes,
        "instances": instances,
        "active": active,
        "error": error,
        "overcommitted_hosts": overcommitted,
        "seconds": round(seconds, 2),
        "boots_per_s": round(instances / seconds, 1),
        "rpc_messages_per_boot": round(messages / instances, 2),
        "notifications": notifications,
        "notifications_per_boot": round(notified / instances, 2),
        "peak_rss_mb": round(own_rss + children_rss, 1),
        "compute_processes": len(fleet.procs) if fleet else 0,
        "peak_rss_mb_computes": round(children_rss, 1),
        "startup_seconds": round(startup, 2),
        **extra,
    }


async def _flush_notifications(cloud: AllInOne, timeout: float = 30.0) -> None:
    """Let this process's notifiers send what they queued (counted, not timed)."""
    services = [cloud.conductor, cloud.scheduler, *cloud.computes.values()]
    notifiers = [s.manager.notifier for s in services if s is not None]
    if cloud.api is not None:
        notifiers.append(cloud.api.notifier)
    for notifier in notifiers:
        await best_effort(f"sending the notifications of {notifier.binary}", notifier.join(timeout))


async def _until_signal(coro: Coroutine[Any, Any, dict]) -> dict:
    """Run ``coro``; SIGTERM cancels it as Ctrl-C does, so every ``finally`` (children) runs."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await coro


def _table(result: dict) -> str:
    width = max(len(k) for k in result)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in result.items())


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--computes", type=int, default=100)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument(
        "--transport", "--transport-url", default=None, help="URL (default: a fresh memory://)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=200, help="boots in flight (created, not yet settled)"
    )
    parser.add_argument(
        "--via-api", action="store_true", help="boot through the REST API with an HTTP client"
    )
    parser.add_argument(
        "--compute-processes",
        type=int,
        default=None,
        help="child processes hosting the computes (rabbit:// only; default 4, 0: in-process)",
    )
    parser.add_argument(
        "--database",
        default=None,
        help="sqlite:///PATH, or postgresql://user:pw@host:port/db (default: a temporary SQLite)",
    )
    parser.add_argument(
        "--notifications",
        choices=NOTIFICATIONS,
        default="off",
        help="notification_format of the control plane (off: no driver; default off)",
    )
    parser.add_argument("--conductors", type=int, default=0, help="conductor processes")
    parser.add_argument("--schedulers", type=int, default=0, help="scheduler processes")
    parser.add_argument("--apis", type=int, default=1, help="API processes (replicated run)")
    parser.add_argument(
        "--no-quorum",
        dest="quorum",
        action="store_false",
        default=None,
        help="no quorum queues / at-least-once on a multi-host URL",
    )
    parser.add_argument("--profile", choices=("api", "conductor", "scheduler"), default=None)
    parser.add_argument("--no-baseline", action="store_true", help="skip the single-process run")
    args = parser.parse_args(argv)
    remote = bool(args.transport) and not args.transport.startswith("memory:")
    if args.compute_processes and not remote:
        parser.error("--compute-processes needs a transport other processes can reach (rabbit://)")
    if (args.conductors or args.schedulers) and not (remote and args.via_api):
        parser.error("--conductors/--schedulers run daemons: they need rabbit:// and --via-api")
    args.compute_processes = (
        (4 if remote else 0) if args.compute_processes is None else args.compute_processes
    )
    return args


async def _replicated_and_baseline(args: argparse.Namespace) -> dict:
    from bench._replicated import run_replicated

    result = await run_replicated(
        transport=args.transport,
        database=args.database,
        computes=args.computes,
        instances=args.instances,
        concurrency=args.concurrency,
        conductors=args.conductors,
        schedulers=args.schedulers,
        apis=args.apis,
        compute_processes=args.compute_processes,
        quorum=args.quorum,
        profile=args.profile,
        config=_config(args.notifications),
        flavor=FLAVOR,
        image=IMAGE,
        overcommitted=overcommitted_hosts,
    )
    if not args.no_baseline:
        base = await run(args.computes, args.instances, None, args.concurrency, via_api=True)
        keep = ("boots_per_s", "launch_p50_ms", "launch_p99_ms", "active", "error", "seconds")
        result["baseline"] = {
            "run": "single-process sqlite memory://",
            **{k: base[k] for k in keep},
        }
    return result


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    tune_gc()  # as the aionova daemons do
    if args.conductors or args.schedulers:
        storm = _replicated_and_baseline(args)
    else:
        storm = run(
            args.computes,
            args.instances,
            args.transport,
            args.concurrency,
            args.via_api,
            compute_processes=args.compute_processes,
            database=args.database,
            notifications=args.notifications,
        )
    try:
        result = asyncio.run(_until_signal(storm))
    except asyncio.CancelledError:
        sys.exit(128 + signal.SIGTERM)
    print(_table(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
