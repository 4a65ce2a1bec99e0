"""Transport: a driver found by URL scheme, plus the caller's reply table.

Drivers are found through the ``aionova.rpc.drivers`` entry-point group
(``memory``, ``rabbit`` …), so ``aionova.rpc`` never imports a driver module itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

import msgspec
from aionova.rpc._replies import ReplyWaiters
from aionova.rpc._target import Target
from aionova.rpc.driver import Driver, DriverFactory
from aionova.rpc.errors import InvalidTarget, MessagingException, MessagingTimeout

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

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


#: ``scheme://`` at the start of a transport URL (RFC 3986's scheme characters).
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


class TransportStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """Messages this transport has carried since it was created (``Transport.statistics``).

    Sent: ``casts_sent`` and ``calls_sent`` (requests of this process's clients),
    ``replies_sent`` (by this process's servers: results, failures and call-monitor
    heartbeats). Received: ``casts_received`` and ``calls_received`` (requests its
    servers took), ``replies_received`` (replies to its clients' calls).
    """

    casts_sent: int = 0
    calls_sent: int = 0
    replies_sent: int = 0
    casts_received: int = 0
    calls_received: int = 0
    replies_received: int = 0

    @property
    def messages_sent(self) -> int:
        """Every message sent: requests and replies."""
        return self.casts_sent + self.calls_sent + self.replies_sent


@cache
def _factory(scheme: str) -> DriverFactory:
    # Imported here: importlib.metadata is a third of the package's import time.
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group=DRIVER_GROUP)}
    entry = found.get(scheme)
    if entry is None:
        known = ", ".join(f"{name}://" for name in sorted(found)) or "none installed"
        raise MessagingException(
            f"no RPC driver for {scheme}:// (installed: {known}); a driver registers "
            f"itself under the {DRIVER_GROUP!r} entry points"
        )
    try:
        factory: DriverFactory = entry.load()
    except ImportError as exc:
        raise MessagingException(_unloadable(scheme, entry, exc)) from exc
    return factory


def _unloadable(scheme: str, entry: EntryPoint, exc: ImportError) -> str:
    """Why a registered driver cannot be imported, naming the extra that brings it."""
    dist = entry.dist.name if entry.dist is not None else None
    if entry.extras and dist:
        extras = ",".join(entry.extras)
        quoted = ", ".join(repr(extra) for extra in entry.extras)
        return f"{scheme}:// needs the {quoted} extra: pip install '{dist}[{extras}]' ({exc})"
    source = f" from {dist}" if dist else ""
    return f"the {scheme}:// driver ({entry.value}{source}) cannot be imported: {exc}"


def driver_for(url: str) -> Driver:
    """Instantiate the driver registered for the URL's scheme (loaded on first use)."""
    if not isinstance(url, str):
        raise TypeError(f"a transport URL is a string, not {type(url).__name__}")
    match = _SCHEME.match(url)
    if match is None:
        # The URL itself is not echoed: it may carry a password.
        raise MessagingException(
            "malformed transport URL: it must start with a scheme, "
            "e.g. memory:// or rabbit://user:password@host:5672/"
        )
    return _factory(match.group(1).lower())(url)


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
        # Plain counters (the hot path only adds one); statistics() freezes them.
        self._casts_sent = self._calls_sent = self._replies_sent = 0
        self._casts_received = self._calls_received = 0

    def statistics(self) -> TransportStatistics:
        """How many casts, calls and replies this transport sent and received so far."""
        return TransportStatistics(
            casts_sent=self._casts_sent,
            calls_sent=self._calls_sent,
            replies_sent=self._replies_sent,
            casts_received=self._casts_received,
            calls_received=self._calls_received,
            replies_received=self._replies.received,
        )

    async def _cast(
        self, target: Target, body: bytes, retry: int | None, *, mandatory: bool = False
    ) -> None:
        _check_send_target(target)
        self._casts_sent += 1
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
        self._calls_sent += 1
        waiter = self._replies.register(msg_id, timeout, monitor)
        try:
            await self._driver.send(target, body, timeout=timeout, retry=retry, mandatory=mandatory)
            return await waiter.future
        finally:
            self._replies.unregister(waiter)

    async def _reply(self, reply_q: str, body: bytes) -> None:
        """Send one reply body (a server's result, failure or heartbeat)."""
        self._replies_sent += 1
        await self._driver.reply(reply_q, body)

    def _received(self, call: bool) -> None:
        """A server of this transport took a request (a call when it wants a reply)."""
        if call:
            self._calls_received += 1
        else:
            self._casts_received += 1

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
