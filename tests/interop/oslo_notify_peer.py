"""oslo.messaging's notification side, driven from asyncio (threads), for the interop tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import oslo_messaging
from oslo_config import cfg
from oslo_messaging._metrics import client as oslo_metrics
from oslo_messaging._tracing import client as oslo_tracing
from oslo_messaging.rpc import dispatcher as oslo_dispatcher

PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")


def oslo_conf() -> cfg.ConfigOpts:
    """A private ConfigOpts with the groups oslo.messaging reads but registers globally."""
    conf = cfg.ConfigOpts()
    conf.register_opts(oslo_tracing.oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(oslo_metrics.oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf.register_opts(oslo_dispatcher._dispatcher_opts)
    conf([], project="aionova-interop-notify")
    return conf


class ThreadRecorder:
    """An oslo-style endpoint (plain methods, called from executor threads)."""

    def __init__(self, answer: Any = None, filter_rule: Any = None) -> None:
        self.seen: list[tuple[str, dict[str, Any], Any, str, Any, dict[str, Any]]] = []
        self.answer = answer
        self.lock = threading.Lock()
        if filter_rule is not None:
            self.filter_rule = filter_rule
        for priority in PRIORITIES:
            setattr(self, priority, self._method(priority))

    def _method(self, priority: str) -> Any:
        def record(
            ctxt: Any, publisher_id: Any, event_type: str, payload: Any, metadata: Any
        ) -> Any:
            with self.lock:
                self.seen.append(
                    (priority, dict(ctxt), publisher_id, event_type, payload, metadata)
                )
            return self.answer(event_type) if self.answer else None

        return record

    @property
    def events(self) -> list[str]:
        with self.lock:
            return [s[3] for s in self.seen]

    async def wait_for(self, count: int, within: float = 20) -> None:
        async with asyncio.timeout(within):
            while len(self.events) < count:
                await asyncio.sleep(0.02)


class OsloListener:
    """An oslo.messaging notification listener (threading executor) as an async context."""

    def __init__(self, transport: Any, topic: str, endpoints: list[Any], **kw: Any) -> None:
        targets = [oslo_messaging.Target(topic=topic)]
        self.listener = oslo_messaging.get_notification_listener(
            transport, targets, endpoints, executor="threading", **kw
        )

    async def __aenter__(self) -> OsloListener:
        await asyncio.to_thread(self.listener.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self.listener.stop()
        self.listener.wait()
