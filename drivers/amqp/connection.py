"""One AMQP connection kept alive: reconnect with backoff, failover, re-setup.

Reconnection is a collaborator rather than aio-pika's ``Robust*`` class tree:
a ``Connector`` owns a plain ``aio_pika.Connection`` and one supervisor task.
When the connection closes (broker restart, dropped socket, missed heartbeats)
the task reconnects, trying the URL's hosts in the order of
``kombu_failover_strategy`` (``failover.py``) and waiting 1, 3, 5 … up to 30 s
between rounds over all hosts (oslo.messaging's defaults), then runs every
registered *setup* (a listener redeclaring its queues and consuming again).
Users wait with ``get()``, which returns the open connection or raises
``ConnectionLost`` when the next connection attempt fails, so a caller's
retry budget counts connection attempts, as oslo.messaging's ``retry`` does.
An attempt that fails for another reason (a certificate file that is missing)
raises a plain ``TransportError`` at once, which nobody retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractConnection
from aionova.drivers.amqp.errors import (
    ConnectionLost,
    close_quietly,
    is_connection_error,
    is_library_cancellation,
    map_exception,
)
from aionova.drivers.amqp.failover import HostCycle
from aionova.drivers.amqp.settings import AmqpSettings, Host
from aionova.rpc.errors import TransportError
from yarl import URL

LOG = logging.getLogger(__name__)

Setup = Callable[[AbstractConnection], Awaitable[None]]


def connection_name() -> str:
    """``<program>:<pid>:<uuid>``, shown by ``rabbitmqctl list_connections``."""
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return f"{program}:{os.getpid()}:{uuid.uuid4()}"


def broker_url(settings: AmqpSettings, host: Host) -> URL:
    """The aio-pika URL for one host (heartbeat in the query, as aiormq reads it)."""
    return URL.build(
        scheme="amqps" if settings.ssl else "amqp",
        host=host.host,
        port=host.port,
        user=host.username,
        password=host.password,
        path="/" + settings.virtual_host.lstrip("/"),
        query={"heartbeat": str(settings.heartbeat)},
    )


class Connector:
    """Keeps one connection open and re-runs the registered setups after each reconnect."""

    def __init__(self, settings: AmqpSettings, role: str) -> None:
        self._settings = settings
        self._role = role
        self._hosts = list(settings.hosts)
        self._cycle = HostCycle(self._hosts, settings.failover_strategy)
        self._host: Host | None = None  # the host of the open connection
        self._connection: AbstractConnection | None = None
        self._ready = asyncio.Event()
        self._outcome: asyncio.Future[BaseException | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._setups: list[Setup] = []
        self._setup_lock = asyncio.Lock()
        self._closed = False
        self._fatal: BaseException | None = None  # the last attempt's non-connection error
        self.connects = 0  # successful connections so far (observable by tests)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called: no connection will be made any more."""
        return self._closed

    @property
    def host(self) -> Host | None:
        """The broker of the open connection (None while there is none)."""
        return self._host if self.is_connected else None

    @property
    def is_connected(self) -> bool:
        conn = self._connection
        return self._ready.is_set() and conn is not None and not conn.is_closed

    async def get(self) -> AbstractConnection:
        """The open connection; waits for the current attempt, raises if it fails."""
        if self._closed:
            raise TransportError("AMQP driver is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"amqp-{self._role}-connector")
        conn = self._connection
        if conn is not None and self._ready.is_set() and not conn.is_closed:
            return conn
        if self._fatal is not None:  # no need to wait for the next attempt to fail alike
            raise self._failure(self._fatal) from self._fatal
        if self._outcome is None or self._outcome.done():
            self._outcome = asyncio.get_running_loop().create_future()
        bound = self._settings.connect_timeout * len(self._hosts) + self._settings.interval_max + 1
        try:
            async with asyncio.timeout(bound):
                error: BaseException | None = await asyncio.shield(self._outcome)
        except TimeoutError:
            error = TimeoutError(f"no connection within {bound:.0f}s")
        if error is not None:
            raise self._failure(error) from error
        conn = self._connection
        if conn is None or conn.is_closed:
            raise ConnectionLost("AMQP connection lost while connecting")
        return conn

    def _failure(self, error: BaseException) -> TransportError:
        """``ConnectionLost`` (retried by publishers) or, for a settings error, a TransportError."""
        mapped = map_exception(error, f"connecting to {self._describe_hosts()}")
        return mapped if isinstance(mapped, TransportError) else TransportError(str(mapped))

    async def add_setup(self, setup: Setup) -> None:
        """Run ``setup`` on the open connection now, and again after every reconnect.

        Waits for a connection as ``get()`` does; an error of the first run
        propagates (nothing is registered then).
        """
        while True:
            conn = await self.get()
            async with self._setup_lock:
                if conn is self._connection and not conn.is_closed:
                    await setup(conn)
                    self._setups.append(setup)
                    return

    def remove_setup(self, setup: Setup) -> None:
        with contextlib.suppress(ValueError):
            self._setups.remove(setup)

    def _describe_hosts(self) -> str:
        return ",".join(f"{h.host}:{h.port}" for h in self._hosts)

    def _settle(self, error: BaseException | None) -> None:
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(error)

    async def _open(self, host: Host) -> AbstractConnection:
        settings = self._settings
        ssl_context = settings.ssl_context()  # a missing certificate is no connection failure
        try:
            async with asyncio.timeout(settings.connect_timeout):
                return await aio_pika.connect(
                    broker_url(settings, host),
                    ssl_context=ssl_context,
                    timeout=settings.connect_timeout,
                    client_properties={"connection_name": connection_name()},
                )
        except TimeoutError:
            raise TimeoutError(f"no answer within {settings.connect_timeout}s") from None
        except asyncio.CancelledError as exc:
            if not is_library_cancellation(exc):
                raise
            raise ConnectionError("the connection was dropped while opening") from exc

    async def _run_setups(self, conn: AbstractConnection) -> bool:
        """Run every setup on ``conn``; False when one failed for a connection-level
        reason (a channel the broker closed, a declaration that timed out while a
        quorum queue elects its leader): then the connection is no good for it."""
        ok = True
        async with self._setup_lock:
            for setup in list(self._setups):
                try:
                    await setup(conn)
                except (Exception, asyncio.CancelledError) as exc:
                    # One subscription failing must not stop the others, nor this task
                    # (aiormq raises CancelledError when it drops a dead connection).
                    if not (isinstance(exc, Exception) or is_library_cancellation(exc)):
                        raise
                    error = map_exception(exc, "redeclaring and consuming")
                    retried = is_connection_error(exc)
                    LOG.error(
                        "AMQP %s: re-setup after reconnect failed: %s%s",
                        self._role,
                        error,
                        "; reconnecting to try again" if retried else "",
                    )
                    ok = ok and not retried
        return ok

    async def _run(self) -> None:
        attempt = 0
        untried = len(self._hosts)
        while not self._closed:
            attempt += 1
            host = self._cycle.next()
            try:
                conn = await self._open(host)
            except Exception as exc:
                if not is_connection_error(exc):
                    # Settings the broker never saw (a missing certificate file …):
                    # every caller gets it at once; tried again after the back-off.
                    LOG.error(
                        "AMQP %s: cannot connect: %s: %s", self._role, type(exc).__name__, exc
                    )
                    self._fatal = exc
                    self._settle(exc)
                    await asyncio.sleep(self._settings.backoff(attempt))
                    self._fatal = None
                    continue
                untried -= 1
                if untried > 0:  # one attempt is one round over the hosts
                    LOG.warning(
                        "AMQP %s: cannot connect to %s:%d (%s); trying the next host",
                        self._role,
                        host.host,
                        host.port,
                        exc,
                    )
                    attempt -= 1
                    continue
                untried = len(self._hosts)
                delay = self._settings.backoff(attempt)
                LOG.warning(
                    "AMQP %s: cannot connect to %s (%s); retrying in %.1fs",
                    self._role,
                    self._describe_hosts(),
                    exc,
                    delay,
                )
                self._settle(exc)
                await asyncio.sleep(delay)
                continue
            lost = asyncio.Event()
            conn.close_callbacks.add(lambda *_, ev=lost: ev.set())
            if self.connects:
                LOG.info("AMQP %s: reconnected to %s:%d", self._role, host.host, host.port)
            else:
                LOG.info("AMQP %s: connected to %s:%d", self._role, host.host, host.port)
            self.connects += 1
            if not await self._run_setups(conn):
                # A listener left unsubscribed would stop consuming for good: drop this
                # connection and set everything up again on a new one, after the back-off.
                await close_quietly(conn, self._settings.connect_timeout)
                self._settle(ConnectionLost("re-setup after reconnect failed"))
                await asyncio.sleep(self._settings.backoff(attempt))
                continue
            attempt, untried = 0, len(self._hosts)
            self._cycle.connected(host)
            self._connection, self._host = conn, host
            self._ready.set()
            self._settle(None)
            await lost.wait()
            self._ready.clear()
            self._connection = None
            if not self._closed:
                LOG.warning("AMQP %s: connection lost; reconnecting", self._role)

    async def close(self) -> None:
        """Stop reconnecting and close the connection (bounded)."""
        self._closed = True
        self._settle(TransportError("AMQP driver is closed"))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._connection = self._connection, None
        self._ready.clear()
        if conn is not None:
            await close_quietly(conn, self._settings.connect_timeout)
