"""What a conformance check runs in: transports from the driver under test, a topic.

A driver author describes the driver under test with a ``TransportFactory``:
every call returns a new ``Transport`` on the same bus or broker (a client
and a server transport must reach each other). ``url_transports`` builds one
from a URL (a driver registered under the ``aionova.rpc.drivers`` entry
points); ``driver_transports`` from a function that makes a driver, for a
driver that is not registered (``Transport(driver)``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Protocol, TypeVar

from aionova.rpc._server import RPCServer, get_rpc_server
from aionova.rpc._target import Target
from aionova.rpc._transport import Transport, get_rpc_transport
from aionova.rpc.driver import Driver
from aionova.rpc.testing._remote_errors import REMOTE_ERRORS_MODULE

LOG = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseException)

#: Seconds a harness waits for its servers to drain when a check ends.
DRAIN_TIMEOUT = 10.0


class TransportFactory(Protocol):
    """Makes a new transport on the driver under test, on one shared bus or broker."""

    def __call__(self, *, allowed_remote_exmods: Iterable[str] = ()) -> Transport: ...


def url_transports(url: str) -> TransportFactory:
    """Transports for ``url`` through ``get_rpc_transport`` (a registered driver)."""

    def make(*, allowed_remote_exmods: Iterable[str] = ()) -> Transport:
        return get_rpc_transport(url, allowed_remote_exmods=allowed_remote_exmods)

    return make


def driver_transports(new_driver: Callable[[], Driver]) -> TransportFactory:
    """Transports around drivers made by ``new_driver()`` (no entry point needed)."""

    def make(*, allowed_remote_exmods: Iterable[str] = ()) -> Transport:
        return Transport(new_driver(), allowed_remote_exmods=allowed_remote_exmods)

    return make


async def expect_error(error: type[E], awaitable: Awaitable[object], why: str) -> E:
    """Await ``awaitable`` and return the ``error`` it raises; fail with ``why`` if none."""
    try:
        await awaitable
    except error as exc:
        return exc
    raise AssertionError(why)


class Harness:
    """One check's world; ``async with`` closes every server and transport it made.

    ``transport`` is the client's (it may rebuild the kit's remote errors),
    ``server_transport`` a second one on the same bus or broker, as another
    process would have; ``topic`` is a topic no other check uses.
    """

    def __init__(self, transports: TransportFactory) -> None:
        self._factory = transports
        self._transports: list[Transport] = []
        self._servers: list[RPCServer] = []
        self.topic = f"conformance_{uuid.uuid4().hex[:12]}"
        self.transport = self.new_transport(allowed_remote_exmods=[REMOTE_ERRORS_MODULE])
        self.server_transport = self.new_transport()

    def new_transport(self, *, allowed_remote_exmods: Iterable[str] = ()) -> Transport:
        """Another transport from the factory, closed with the harness."""
        transport = self._factory(allowed_remote_exmods=allowed_remote_exmods)
        if not isinstance(transport, Transport):
            raise TypeError(f"the transport factory returned {type(transport).__name__}")
        self._transports.append(transport)
        return transport

    async def servers(
        self,
        endpoints: Sequence[object],
        *,
        transport: Transport | None = None,
        exchange: str | None = None,
    ) -> list[RPCServer]:
        """Start one server per endpoint on the topic, named ``s0``, ``s1`` …"""
        started = []
        for i, endpoint in enumerate(endpoints):
            target = Target(topic=self.topic, server=f"s{i}", exchange=exchange)
            server = get_rpc_server(transport or self.transport, target, [endpoint])
            self._servers.append(server)
            await server.start()
            started.append(server)
        return started

    async def __aenter__(self) -> Harness:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop and drain the servers, then close the transports."""
        try:
            for server in self._servers:
                await server.stop()
            async with asyncio.timeout(DRAIN_TIMEOUT):
                for server in self._servers:
                    await server.wait()
        except TimeoutError:
            LOG.warning("conformance: servers did not drain in %s s; aborting", DRAIN_TIMEOUT)
            for server in self._servers:
                await server.abort()
        finally:
            for transport in reversed(self._transports):
                await transport.close()
