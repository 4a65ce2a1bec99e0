"""Transport: a driver found by URL scheme, plus the caller's reply table.

Drivers are found through the ``aionova.rpc.drivers`` entry-point group
(``memory``, ``rabbit`` …), so ``aionova.rpc`` never imports a driver module itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import cache
from importlib.metadata import entry_points
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import msgspec
from aionova.rpc._replies import ReplyWaiters
from aionova.rpc._target import Target
from aionova.rpc.driver import Driver, DriverFactory
from aionova.rpc.errors import InvalidTarget, MessagingException, MessagingTimeout

DRIVER_GROUP = "aionova.rpc.drivers"
DEFAULT_RESPONSE_TIMEOUT = 60.0


class TransportOptions(msgspec.Struct, frozen=True):
    """Per-client delivery options (oslo.messaging's ``TransportOptions``).

    ``at_least_once``: publish topic requests (casts and calls, not fanout)
    with the AMQP mandatory flag, so a request no queue can take fails at once
    with ``MessageUndeliverable`` instead of being dropped (a cast) or ending
    in ``MessagingTimeout`` (a call).
    """

    at_least_once: bool = False


@cache
def _factory(scheme: str) -> DriverFactory:
    found = entry_points(group=DRIVER_GROUP, name=scheme)
    if not found:
        known = ", ".join(sorted(ep.name for ep in entry_points(group=DRIVER_GROUP)))
        raise MessagingException(
            f"no RPC driver for scheme {scheme!r} (known: {known or 'none installed'})"
        )
    factory: DriverFactory = next(iter(found)).load()
    return factory


def driver_for(url: str) -> Driver:
    """Instantiate the driver registered for the URL's scheme (loaded on first use)."""
    return _factory(urlsplit(url).scheme)(url)


class Transport:
    """Owns one driver for its whole life; close it with ``await close()``."""

    def __init__(
        self,
        driver: Driver,
        *,
        url: str = "",
        allowed_remote_exmods: Iterable[str] = (),
        response_timeout: float | None = DEFAULT_RESPONSE_TIMEOUT,
    ) -> None:
        self._driver = driver
        self.url = url
        self.allowed_remote_exmods = tuple(allowed_remote_exmods)
        self.response_timeout = response_timeout
        self._replies = ReplyWaiters(driver, self.allowed_remote_exmods)
        self._closed = False

    async def _cast(
        self, target: Target, body: bytes, retry: int | None, *, mandatory: bool = False
    ) -> None:
        _check_send_target(target)
        await self._driver.send(target, body, retry=retry, mandatory=mandatory)

    async def _call(
        self,
        target: Target,
        msg_id: str,
        body: bytes,
        *,
        timeout: float | None,
        monitor: float | None,
        retry: int | None,
        mandatory: bool = False,
    ) -> Any:
        """Send a request already encoded with ``msg_id`` and wait for its reply."""
        _check_send_target(target)
        waiter = self._replies.register(msg_id, timeout, monitor)
        try:
            await self._driver.send(target, body, timeout=timeout, retry=retry, mandatory=mandatory)
            return await waiter.future
        finally:
            self._replies.unregister(waiter)

    async def _reply_address_within(self, timeout: float | None) -> tuple[str, float | None]:
        """The reply address (created on first use, maybe connecting) and the time left.

        A call's timeout bounds everything it waits for: a broker that accepts
        the connection and never answers costs ``MessagingTimeout`` in time.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                address = await self._replies.address()
        except TimeoutError:
            if not scope.expired():
                raise
            raise MessagingTimeout(
                f"Timed out within the call's {timeout}s while setting up the reply queue "
                "(broker unreachable?)"
            ) from None
        if timeout is None:
            return address, None
        return address, max(timeout - (loop.time() - started), 0.0)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._replies.close(MessagingException("transport closed"))
        await self._driver.close()

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _check_send_target(target: Target) -> None:
    if not target.topic:
        raise InvalidTarget("A topic is required to send", target)


def get_rpc_transport(
    url: str,
    *,
    allowed_remote_exmods: Iterable[str] = (),
    response_timeout: float | None = DEFAULT_RESPONSE_TIMEOUT,
) -> Transport:
    """A transport for ``url`` (``memory://``, ``memory://NAME``, ``rabbit://…``).

    ``allowed_remote_exmods`` names the modules whose exceptions a caller may
    rebuild; ``response_timeout`` is the call timeout when a client sets none.
    """
    return Transport(
        driver_for(url),
        url=url,
        allowed_remote_exmods=allowed_remote_exmods,
        response_timeout=response_timeout,
    )
