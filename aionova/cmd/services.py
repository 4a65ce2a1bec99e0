"""What each sub-command starts, and in which order it stops."""

from __future__ import annotations

import argparse
import logging
import sys

from aionova import messaging, rpc
from aionova.api.compute import API
from aionova.cmd.runner import Runner, start_api
from aionova.cmd.seed import seed
from aionova.compute.manager import ComputeManager
from aionova.conductor.manager import ConductorManager
from aionova.config import Config, transport_url
from aionova.db import Database
from aionova.deployment import AllInOne
from aionova.manager import Manager
from aionova.scheduler.manager import SchedulerManager
from aionova.service import Service
from aionova.virt.fake import FakeDriver, Latency

LOG = logging.getLogger("aionova.cmd")
#: Start attempts while the broker (or a compute's conductor) cannot be reached: every
#: 1, 2, 4 … seconds, at most START_RETRY_MAX apart, until it works or SIGTERM.
START_RETRY_MAX = 30.0
UNREACHABLE = (rpc.TransportError, rpc.MessageDeliveryFailure, rpc.MessagingTimeout)
HOST_SIZE: dict[str, int] = {"vcpus": 32, "memory_mb": 65536, "local_gb": 2000}


def _driver(spawn_latency: float) -> FakeDriver:
    """The virt driver of the daemons: a fake hypervisor of HOST_SIZE."""
    size = HOST_SIZE
    return FakeDriver(
        vcpus=size["vcpus"],
        memory_mb=size["memory_mb"],
        local_gb=size["local_gb"],
        latency=Latency(spawn=spawn_latency),
    )


async def _open_db(runner: Runner, cfg: Config) -> Database:
    db = await Database(cfg.database.connection, cfg.database).open()
    runner.on_stop("database", db.close)
    return db


def _transport(runner: Runner, cfg: Config) -> rpc.Transport:
    transport = messaging.get_transport(cfg.rpc_transport_url())
    runner.on_stop("transport", transport.close)
    return transport


async def _run_service(
    cfg: Config, binary: str, topic: str, manager: Manager, runner: Runner
) -> None:
    service = Service(binary, topic, manager.host, manager)
    if not await start_when_reachable(service, cfg, runner):
        await runner.shutdown()
        return
    runner.on_stop(binary, service.stop)
    LOG.info("%s on %s started (transport %s)", binary, manager.host, _redact(cfg))
    await runner.serve_forever()


async def start_when_reachable(service: Service, cfg: Config, runner: Runner) -> bool:
    """Start ``service``; while the broker (or, for a compute, the conductor behind
    it) cannot be reached, log why and try again, backing off, as oslo.messaging's
    services do. False when a stop (SIGTERM/SIGINT) came first."""
    delay = 1.0
    while True:
        try:
            await service.start()
            return True
        except UNREACHABLE as exc:
            LOG.error(
                "%s on %s cannot start: %s (transport %s); retrying in %.0fs",
                service.binary,
                service.host,
                exc,
                _redact(cfg),
                delay,
            )
        if await runner.stop_requested(delay):
            return False
        delay = min(delay * 2, START_RETRY_MAX)


def _redact(cfg: Config) -> str:
    """The transport URL without credentials (every host's) or query."""
    url = cfg.DEFAULT.transport_url
    scheme, _, rest = url.partition("://")
    netloc, _, path = rest.partition("/")
    hosts = ",".join(h.rpartition("@")[2] for h in netloc.split(","))
    return f"{scheme}://{hosts}" + (f"/{path.partition('?')[0]}" if "/" in rest else "")


async def run_conductor(cfg: Config, args: argparse.Namespace) -> None:
    runner = Runner()
    db = (await _open_db(runner, cfg)).retrying()
    transport = _transport(runner, cfg)
    manager = ConductorManager(cfg.DEFAULT.host, cfg, transport, db)
    if cfg.notifications.notify_on_state_change:  # the computes' saves are done here
        db.on_instance_update = manager.notifier.instance_saved
    await _run_service(cfg, "nova-conductor", "conductor", manager, runner)


async def run_scheduler(cfg: Config, args: argparse.Namespace) -> None:
    runner = Runner()
    db = (await _open_db(runner, cfg)).retrying()
    transport = _transport(runner, cfg)
    host = cfg.DEFAULT.host
    await _run_service(
        cfg, "nova-scheduler", "scheduler", SchedulerManager(host, cfg, transport, db), runner
    )


async def run_compute(cfg: Config, args: argparse.Namespace) -> None:
    runner = Runner()
    transport = _transport(runner, cfg)
    manager = ComputeManager(cfg.DEFAULT.host, cfg, transport, _driver(args.spawn_latency))
    await _run_service(cfg, "nova-compute", "compute", manager, runner)


async def run_api(cfg: Config, args: argparse.Namespace) -> None:
    runner = Runner()
    db = await _open_db(runner, cfg)
    transport = _transport(runner, cfg)
    api = API(db, transport, cfg)
    runner.on_stop("api notifications", api.notifier.stop)
    if cfg.notifications.notify_on_state_change:
        db.on_instance_update = api.notifier.instance_saved
    url = await start_api(runner, api, db, cfg.api)
    print(f"aionova API at {url}/v2.1", flush=True)
    await runner.serve_forever()


async def run_all_in_one(cfg: Config, args: argparse.Namespace) -> None:
    """api + conductor + scheduler + N fake computes, one process, one SQLite file."""
    runner = Runner()
    url = transport_url(cfg)
    cloud = AllInOne(
        cfg, cfg.database.connection, transport_url=None if url.startswith("memory://") else url
    )
    await cloud.start()
    runner.on_stop("control plane", cloud.stop)
    if not args.no_seed:
        await seed(cloud.db)
    for index in range(1, args.computes + 1):
        await cloud.add_compute(f"compute{index}", _driver(args.spawn_latency))
    assert cloud.api is not None
    base = await start_api(runner, cloud.api, cloud.db, cfg.api)
    if cfg.api.auth_strategy == "keystone":
        sys.stdout.write(keystone_banner(base, args.computes, cloud.url))
    else:
        sys.stdout.write(banner(base, args.computes, cloud.url))
    sys.stdout.flush()
    await runner.serve_forever()


def banner(base: str, computes: int, transport: str) -> str:
    """What to paste into a shell to drive this cloud with ``nova`` / ``openstack``."""
    if "@" in transport:
        transport = transport.split("://")[0] + "://***@" + transport.rpartition("@")[2]
    return f"""aionova all-in-one is up: {computes} fake computes on {transport}
  API: {base}/v2.1   (microversions 2.1 .. 2.60; no Keystone: token 'notused' = admin)

  # nova (python-novaclient): the three dummies are required, never contacted
  export OS_AUTH_TYPE=none OS_ENDPOINT={base}/v2.1
  export OS_USERNAME=admin OS_PROJECT_ID=admin OS_AUTH_URL=http://127.0.0.1:1/
  nova flavor-list; nova boot --flavor m1.tiny --image cirros --poll vm1; nova list

  # openstack (python-openstackclient): same two, minus the three dummies, plus
  export OS_IMAGE_ENDPOINT_OVERRIDE={base}/image OS_IDENTITY_API_VERSION=3
  env -u OS_USERNAME -u OS_PROJECT_ID -u OS_AUTH_URL openstack server list

Ctrl-C (SIGINT) or SIGTERM stops it.
"""


def keystone_banner(base: str, computes: int, transport: str) -> str:
    """The same, when tokens are validated by Keystone (the clients go through its catalog)."""
    if "@" in transport:
        transport = transport.split("://")[0] + "://***@" + transport.rpartition("@")[2]
    return f"""aionova all-in-one is up: {computes} fake computes on {transport}
  API: {base}/v2.1   (microversions 2.1 .. 2.60; auth_strategy keystone)

  # once per Keystone: list this API in its catalog (compute, and image)
  aionova keystone-register --url {base} --os-auth-url $OS_AUTH_URL --os-password ...
  # then the clients with password auth
  export OS_AUTH_URL=http://KEYSTONE:5000/v3 OS_USERNAME=... OS_PASSWORD=... OS_PROJECT_NAME=...
  export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3
  openstack server list; nova list

Ctrl-C (SIGINT) or SIGTERM stops it.
"""
