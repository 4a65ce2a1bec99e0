"""A notification listener on a control plane, and Nova's event sequences per format."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from aionova import rpc
from aionova.config import Config
from aionova.deployment import AllInOne
from aionova.notifications import NotificationsOpts, OsloMessagingNotificationsOpts

PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")
TOPICS = ("notifications", "versioned_notifications")


class Seen(msgspec.Struct, frozen=True):
    priority: str
    publisher: str
    event_type: str
    payload: Any

    @property
    def uuid(self) -> str | None:
        """The instance a notification is about (None for service and exception events)."""
        payload = self.payload if isinstance(self.payload, dict) else {}
        data = payload.get("nova_object.data")
        if isinstance(data, dict):
            return data.get("uuid") if "state" in data else None
        if "instance_id" in payload:
            return str(payload["instance_id"])
        instance = (payload.get("args") or {}).get("instance")
        return instance.get("uuid") if isinstance(instance, dict) else None


class Events:
    """An endpoint for every priority: what arrives, in order."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._changed = asyncio.Condition()
        for priority in PRIORITIES:
            setattr(self, priority, self._method(priority))

    def _method(self, priority: str) -> Callable[..., Any]:
        async def record(ctxt: Any, publisher: Any, event_type: str, payload: Any, md: Any) -> None:
            async with self._changed:
                self.seen.append(Seen(priority.upper(), str(publisher), event_type, payload))
                self._changed.notify_all()

        return record

    def of(self, instance_uuid: str) -> list[Seen]:
        return [s for s in self.seen if s.uuid == instance_uuid]

    def types(self, instance_uuid: str) -> list[str]:
        return [s.event_type for s in self.of(instance_uuid)]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_for_types(
        self, instance_uuid: str, expected: list[str], timeout: float = 15.0
    ) -> list[Seen]:
        """Wait until the instance's events are (at least) as many as ``expected``."""
        try:
            await self.wait(lambda: len(self.of(instance_uuid)) >= len(expected), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{instance_uuid}: wanted {expected}, have {self.types(instance_uuid)}"
            ) from None
        return self.of(instance_uuid)


async def wait_moved(cloud: AllInOne, uuid: str, host: str, timeout: float = 20.0) -> None:
    """Wait until an evacuated instance is ACTIVE, idle, on ``host`` (the host moves
    after the rebuild's last state save, as in Nova: ACTIVE alone is too early)."""

    async def moved() -> bool:
        instance = await cloud.db.instance_get(None, uuid)
        return (instance.vm_state, instance.task_state, instance.host) == ("active", None, host)

    async with asyncio.timeout(timeout):
        while not await moved():
            await asyncio.sleep(0.02)


def bare(url: str) -> str:
    """A transport URL without its query (so without its control_exchange)."""
    return urlunsplit(urlsplit(url)._replace(query=""))


@asynccontextmanager
async def listening(url: str, exchange: str = "nova") -> AsyncIterator[Events]:
    """A pool listener of its own on both topics of ``exchange`` (one line of arrival)."""
    events = Events()
    async with rpc.get_notification_transport(bare(url)) as transport:
        targets = [rpc.Target(topic=t, exchange=exchange) for t in TOPICS]
        listener = rpc.get_notification_listener(
            transport,
            targets,
            [events],
            pool=f"test-{uuid.uuid4().hex[:8]}",
            max_concurrency=1,
        )
        async with listener:
            yield events


def steady_config() -> Config:
    """``fast_config`` whose computes stay up when a loaded machine delays a heartbeat
    (these tests force a compute down when they want one down)."""
    from tests.aionova.conftest import fast_config

    return fast_config(service_down_time=10.0)


def with_notifications(config: Config, fmt: str, **messaging: Any) -> Config:
    """``config`` with ``[notifications] notification_format = fmt`` (and messaging options)."""
    return msgspec.structs.replace(
        config,
        notifications=NotificationsOpts(notification_format=fmt),  # type: ignore[arg-type]
        oslo_messaging_notifications=OsloMessagingNotificationsOpts(**messaging),
    )


# (legacy event, versioned event) per emission point, in Nova's order.
Step = tuple[str | None, str | None]


def steps(*names: str) -> list[Step]:
    """``create.start`` -> (compute.instance.create.start, instance.create.start) …"""
    special = {"rebuild.scheduled": "instance.rebuild_scheduled", "evacuate": "instance.evacuate"}
    return [(f"compute.instance.{n}", special.get(n, f"instance.{n}")) for n in names]


def expected(fmt: str, sequence: list[Step]) -> list[str]:
    """What a listener sees of ``sequence`` in a format (both: legacy, then versioned)."""
    out: list[str] = []
    for legacy, versioned in sequence:
        if fmt in ("unversioned", "both") and legacy:
            out.append(legacy)
        if fmt in ("versioned", "both") and versioned:
            out.append(versioned)
    return out


BOOT = steps("create.start", "create.end")
REBOOT = steps("reboot.start", "reboot.end")
REBUILD = steps("rebuild.scheduled", "exists", "rebuild.start", "rebuild.end")
EVACUATE = steps("evacuate") + REBUILD
POWER_OFF = steps("power_off.start", "power_off.end")
POWER_ON = steps("power_on.start", "power_on.end")
DELETE = steps("delete.start", "shutdown.start", "shutdown.end", "delete.end")
FAILED_BUILD = [
    *steps("create.start", "create.error"),
    ("build_and_run_instance", "compute.exception"),
]
