"""Service: runs a manager behind an RPC server, with heartbeats and periodic tasks."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from aionova import exception, rpc
from aionova.baserpc import BaseRPCAPI
from aionova.context import RequestContext, get_admin_context
from aionova.manager import Manager
from aionova.messaging import get_server
from aionova.objects import Service as ServiceRecord
from aionova.versions import SERVICE_VERSION

LOG = logging.getLogger(__name__)


def tune_gc() -> None:
    """Keep CPython's cyclic collector off a long-running service's hot path.

    Every RPC message allocates short-lived objects; at the default first
    generation threshold (700) the collector runs thousands of times a second
    under load, and each pass that promotes walks the long-lived state (objects,
    host states, caches). A larger threshold and freezing what exists at startup
    keep the passes rare and short. Call once, before serving.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)


class Service:
    """One ``binary`` on one ``host``: listens on ``Target(topic, server=host)``.

    Start order (Nova's): look up the service row, ``manager.init_host``, create
    or version-bump the row, ``pre_start_hook``, start the RPC server,
    ``post_start_hook``, then heartbeats and periodic tasks. No message is
    consumed before the recovery and the startup audit are done.
    """

    def __init__(
        self,
        binary: str,
        topic: str,
        host: str,
        manager: Manager,
        *,
        version: int = SERVICE_VERSION,
        backdoor_port: int | None = None,
    ) -> None:
        self.binary, self.topic, self.host = binary, topic, host
        self.manager = manager
        self.version = version
        self.config = manager.config
        self.backdoor_port = backdoor_port
        self.service_ref: ServiceRecord | None = None
        self.server: rpc.RPCServer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def endpoints(self) -> list[Any]:
        base = BaseRPCAPI(self.manager.service_name, self.backdoor_port)
        return [self.manager, base, *self.manager.additional_endpoints]

    async def start(self) -> None:
        ctxt = get_admin_context()
        store = self.manager.store
        ref = await store.service_get_by_host_and_binary(ctxt, self.host, self.binary)
        await self.manager.init_host(ref)
        if ref is None:
            record = ServiceRecord(
                host=self.host, binary=self.binary, topic=self.topic, version=self.version
            )
            ref = await store.service_create(ctxt, record)
            self.manager.notifier.service(ctxt, ref, "create")
        elif ref.version != self.version:
            ref.version = self.version
            await ref.save()
        self.service_ref = self.manager.service_ref = ref
        await self.manager.pre_start_hook(ctxt)
        self.server = get_server(
            self.manager.transport,
            rpc.Target(topic=self.topic, server=self.host),
            self.endpoints,
            store=store,
            max_concurrency=self.config.DEFAULT.rpc_max_concurrency,
        )
        await self.server.start()
        await self.manager.post_start_hook(ctxt)
        d = self.config.DEFAULT
        self._spawn(self._every(d.report_interval, d.initial_report_delay, self._report_state))
        for spacing, task in self.manager.periodic_tasks():
            if spacing > 0:
                delay = random.uniform(0, min(d.periodic_fuzzy_delay, spacing))
                self._spawn(self._every(spacing, delay, task))

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    async def _every(
        self, spacing: float, delay: float, task: Callable[[RequestContext], Awaitable[None]]
    ) -> None:
        await asyncio.sleep(delay)
        while True:
            try:
                await task(get_admin_context())
            except asyncio.CancelledError:
                raise
            except Exception:
                LOG.exception("%s: periodic %s failed", self.host, getattr(task, "__name__", task))
            await asyncio.sleep(spacing)

    async def _report_state(self, ctxt: RequestContext) -> None:
        """One heartbeat: bump report_count (the store sets last_seen_up)."""
        ref = self.service_ref
        if ref is None:
            return
        ref.report_count += 1
        try:
            await ref.save()
        except (rpc.MessagingTimeout, rpc.MessageDeliveryFailure, rpc.TransportError) as exc:
            # The broker or the conductor is away (a node lost, a restart): the next
            # heartbeat tries again; the reason is enough, no traceback.
            LOG.warning(
                "%s: lost connection to the conductor, heartbeat skipped: %s: %s",
                self.host,
                type(exc).__name__,
                exc,
            )
            ref.obj_reset_changes()
        except exception.NotFound:
            LOG.warning("%s: service row was deleted", self.host)

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Graceful: stop consuming, drain in-flight requests, cancel everything owned."""
        if self.server is not None:
            await self.server.stop()
            with contextlib.suppress(TimeoutError):
                await self.server.wait(drain_timeout)
        await self._cancel_tasks()
        await self.manager.cleanup_host()
        await self.manager.notifier.stop()

    async def kill(self) -> None:
        """Abrupt, as a crash: abandon in-flight work without saving anything more."""
        await self._cancel_tasks()
        await self.manager.cleanup_host()
        if self.server is not None:
            await self.server.abort()
        await self.manager.notifier.stop(timeout=0.0)  # queued notifications are lost

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
