"""``aionova events``: print the control plane's notifications as they happen.

    aionova events [--transport-url URL] [--format unversioned|versioned|both]

One line per notification: time, priority, event type, publisher, then the
instance uuid and state (``state/task`` while a task runs) or, for service
events, the service. Where to listen comes from the settings the services
read: ``[oslo_messaging_notifications] transport_url`` (else ``[DEFAULT]
transport_url``; ``--transport-url`` wins over both), ``[DEFAULT]
control_exchange``, the legacy ``topics`` and ``versioned_notifications_topics``,
and ``[notifications] notification_format`` unless ``--format`` says otherwise.
The command listens in a pool of its own whose queue is deleted when it stops,
so it takes no notification away from the consumers that share the
``notifications`` queues (billing, monitoring). Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import Callable
from typing import Any, TextIO

from aionova import rpc
from aionova.config import Config
from aionova.notifications.settings import (
    NotificationsOpts,
    OsloMessagingNotificationsOpts,
    notification_transport_url,
    with_control_exchange,
)

LOG = logging.getLogger("aionova.cmd.events")
FORMATS = ("unversioned", "versioned", "both")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="which notifications to show (default: [notifications] notification_format)",
    )


def describe(event_type: str, payload: Any) -> str:
    """The instance (uuid, state[/task]) or service a payload is about."""
    if not isinstance(payload, dict):
        return "-"
    data = payload.get("nova_object.data")
    if isinstance(data, dict):  # versioned
        if "binary" in data and "uuid" in data and "state" not in data:
            down = " forced_down" if data.get("forced_down") else ""
            off = " disabled" if data.get("disabled") else ""
            return f"service {data.get('binary')}@{data.get('host')}{off}{down}"
        return _instance(data.get("uuid"), data.get("state"), data.get("task_state"))
    if "instance_id" in payload:  # legacy
        return _instance(
            payload.get("instance_id"), payload.get("state"), payload.get("state_description")
        )
    return "-"


def _instance(uuid: Any, state: Any, task: Any) -> str:
    if uuid is None:
        return "-"
    shown = f"{state}/{task}" if task else f"{state}"
    return f"instance {uuid} {shown}"


def format_line(
    priority: str, publisher_id: Any, event_type: str, payload: Any, metadata: dict[str, Any]
) -> str:
    """``<time> <PRIORITY> <event_type> <publisher> <what it is about>``."""
    when = metadata.get("timestamp") or "-"
    return (
        f"{when} {priority.upper():<8} {event_type} {publisher_id} {describe(event_type, payload)}"
    )


class Printer:
    """An endpoint for every priority that writes one line per notification."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        for priority in ("audit", "debug", "info", "warn", "error", "critical", "sample"):
            setattr(self, priority, self._printer(priority))

    def _printer(self, priority: str) -> Callable[..., None]:
        def show(ctxt: Any, publisher_id: Any, event_type: str, payload: Any, md: Any) -> None:
            self.out.write(format_line(priority, publisher_id, event_type, payload, md) + "\n")
            self.out.flush()
            self.count += 1

        return show


def topics_for(
    fmt: str, notifications: NotificationsOpts, messaging: OsloMessagingNotificationsOpts
) -> list[str]:
    topics: list[str] = []
    if fmt in ("unversioned", "both"):
        topics += messaging.topics
    if fmt in ("versioned", "both"):
        topics += notifications.versioned_notifications_topics
    return topics


async def watch(
    url: str,
    topics: list[str],
    out: TextIO,
    stop: asyncio.Event,
    *,
    ready: Callable[[], None] | None = None,
) -> int:
    """Print the notifications on ``topics`` until ``stop`` is set; returns how many."""
    printer = Printer(out)
    pool = f"aionova-events-{os.getpid()}-{os.urandom(4).hex()}"
    async with rpc.get_notification_transport(url) as transport:
        listener = rpc.get_notification_listener(
            transport,
            [rpc.Target(topic=t) for t in topics],
            [printer],
            pool=pool,
            transient_pool=True,
            max_concurrency=1,  # lines in the order the notifications arrive
        )
        async with listener:
            if ready is not None:
                ready()
            await stop.wait()
    return printer.count


async def run(cfg: Config, args: argparse.Namespace) -> None:
    """The ``events`` sub-command."""
    notifications, messaging = cfg.notifications, cfg.oslo_messaging_notifications
    url = listen_url(cfg, args.transport_url)
    topics = topics_for(args.format or notifications.notification_format, notifications, messaging)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready() -> None:
        where = f"{', '.join(topics)} on {_safe(url)}"
        print(f"watching {where} (Ctrl-C stops)", file=sys.stderr, flush=True)
        if url.startswith("memory://"):
            print(
                "note: memory:// is in-process; this command sees only its own process "
                "(use --transport-url rabbit://…)",
                file=sys.stderr,
                flush=True,
            )

    try:
        await watch(url, topics, sys.stdout, stop, ready=ready)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def listen_url(cfg: Config, flag: str | None) -> str:
    """Where the services send notifications: ``--transport-url``, else the settings'."""
    exchange = cfg.DEFAULT.control_exchange
    if flag:
        return with_control_exchange(flag, exchange)
    return notification_transport_url(
        cfg.oslo_messaging_notifications, cfg.DEFAULT.transport_url, exchange
    )


def _safe(url: str) -> str:
    """The URL with its passwords masked (every ``user:password@`` of every host)."""
    return re.sub(r"(?<=[/,])([^:/@,]+):[^@/,]*@", r"\1:***@", url)
