"""``aionova``: one command, one sub-command per service, and the all-in-one.

    aionova all-in-one [--computes N] [--port P]      # everything in one process
    aionova api | conductor | scheduler [--host NAME] # control-node services
    aionova compute --host NAME                       # one fake compute
    aionova keystone-register --url http://HOST:8774  # list the API in Keystone's catalog
    aionova events [--format both]                    # print notifications as they happen
    aionova db-sync --database URL                    # create / migrate the schema
    aionova seed --database URL                       # the starter flavors and images

Daemons run on uvloop where it is installed (the ``[speed]`` extra), else on
asyncio; ``--loop`` (or ``$AIONOVA_LOOP``) chooses.

Settings come from a TOML file (``--config`` or ``$AIONOVA_CONFIG``), then
``AIONOVA_<SECTION>__<KEY>`` environment variables, then these flags.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

import msgspec

from aionova import config as config_mod
from aionova import eventloop, rpc
from aionova.api.auth import UnsafeConfig, check_noauth_exposure
from aionova.api.keystone import ConfigError
from aionova.api.policy import PolicyFileError
from aionova.api.requestlog import setup as setup_logging
from aionova.cmd import admin, events, keystone_register, services
from aionova.config import Config
from aionova.db import DBError, engine_for
from aionova.exception import InvalidConfiguration
from aionova.service import tune_gc

LOG = logging.getLogger("aionova.cmd")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=os.environ.get("AIONOVA_CONFIG"), help="TOML file")
    common.add_argument("--transport-url", help="memory://NAME or rabbit://user:pw@host:port/")
    common.add_argument(
        "--database",
        help="sqlite:///PATH (or a path) or postgresql://user:pw@host:port/db, shared by"
        " api, conductor and scheduler",
    )
    common.add_argument("--log-level", default=os.environ.get("AIONOVA_LOG_LEVEL", "INFO"))
    common.add_argument(
        "--loop",
        choices=eventloop.LOOPS,
        default=os.environ.get("AIONOVA_LOOP") or None,
        help="event loop (default: uvloop where installed, the [speed] extra; else asyncio)",
    )
    parser = argparse.ArgumentParser(prog="aionova", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("api", "all-in-one"):
        p = sub.add_parser(name, parents=[common], help=f"run the {name}")
        _add_host(p)
        p.add_argument("--listen", help="address for the REST API (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="port for the REST API (default 8774; 0: any)")
        if name == "all-in-one":
            p.add_argument("--computes", type=int, default=3, help="fake computes (default 3)")
            p.add_argument("--spawn-latency", type=float, default=0.0, help="seconds per spawn")
            p.add_argument("--no-seed", action="store_true", help="no flavors or images")
    for name in ("conductor", "scheduler"):
        _add_host(sub.add_parser(name, parents=[common], help=f"run the {name}"))
    p = sub.add_parser("compute", parents=[common], help="run one fake compute")
    p.add_argument("--host", required=True, help="the compute's host name")
    p.add_argument("--spawn-latency", type=float, default=0.0, help="seconds per spawn")
    sub.add_parser("db-sync", parents=[common], help="create or migrate the database schema")
    sub.add_parser("seed", parents=[common], help="add the starter flavors and images")
    p = sub.add_parser(
        "keystone-register",
        help="register the compute and image endpoints in Keystone",
        description=keystone_register.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--log-level", default=os.environ.get("AIONOVA_LOG_LEVEL", "INFO"))
    keystone_register.add_arguments(p)
    p = sub.add_parser("events", parents=[common], help="print notifications as they happen")
    events.add_arguments(p)
    return parser


def _add_host(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        help="this service's host name, as [DEFAULT] host (default: the machine's name); "
        "two copies of a service on one machine need two names",
    )


def _register(args: argparse.Namespace) -> None:
    try:
        lines = asyncio.run(keystone_register.register(args))
    except keystone_register.RegistrationError as exc:
        sys.exit(f"aionova keystone-register: {exc}")
    print("\n".join(lines))


def load_config(args: argparse.Namespace) -> Config:
    """File, then environment, then flags."""
    cfg = config_mod.load(args.config)
    default, database, api = cfg.DEFAULT, cfg.database, cfg.api
    if args.transport_url:
        default = msgspec.structs.replace(default, transport_url=args.transport_url)
    if getattr(args, "host", None):
        default = msgspec.structs.replace(default, host=args.host)
    if args.database:
        database = msgspec.structs.replace(database, connection=args.database)
    if getattr(args, "listen", None):
        api = msgspec.structs.replace(api, listen=args.listen)
    if getattr(args, "port", None) is not None:
        api = msgspec.structs.replace(api, port=args.port)
    return msgspec.structs.replace(cfg, DEFAULT=default, database=database, api=api)


def _stop_before_start(signum: int, frame: object) -> None:
    """SIGTERM before the service's loop watches signals: nothing runs yet, exit cleanly."""
    sys.exit(0)


def main(argv: Sequence[str] | None = None) -> None:
    previous = signal.signal(signal.SIGTERM, _stop_before_start)
    try:
        _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> None:
    args = _parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.command == "keystone-register":
        _register(args)
        return
    try:
        loop = eventloop.resolve(args.loop)
    except ValueError as exc:  # --loop uvloop without uvloop installed
        sys.exit(f"aionova: {exc}")
    try:
        cfg = load_config(args)
        if args.command in ("api", "all-in-one"):
            check_noauth_exposure(cfg.api)
        if args.command != "events":
            engine_for(cfg.database.connection, cfg.database)  # the URL is understood
    except (OSError, ValueError, msgspec.ValidationError, InvalidConfiguration) as exc:
        sys.exit(f"aionova: bad configuration: {exc}")
    runners = {
        "api": services.run_api,
        "conductor": services.run_conductor,
        "scheduler": services.run_scheduler,
        "compute": services.run_compute,
        "all-in-one": services.run_all_in_one,
        "events": events.run,
        "db-sync": admin.db_sync,
        "seed": admin.seed,
    }
    tune_gc()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            eventloop.run(runners[args.command](cfg, args), loop)
    except (
        UnsafeConfig,
        ConfigError,
        PolicyFileError,
        InvalidConfiguration,
        rpc.DriverLoadFailure,
    ) as exc:
        sys.exit(f"aionova: bad configuration: {exc}")
    except DBError as exc:
        sys.exit(f"aionova: database: {exc}")
    except services.UNREACHABLE as exc:  # the all-in-one: one process, no retry
        sys.exit(f"aionova {args.command}: cannot reach the message broker: {exc}")


if __name__ == "__main__":
    main()
