"""A TCP path that goes silent without closing: only AMQP heartbeats can tell (spec §6.9).

A proxy between the driver and the broker stops forwarding bytes both ways
but keeps every socket open, as a dead NAT entry or a hung peer does. The
driver must notice through missed heartbeats, reconnect once bytes flow
again, and lose nothing a caller was told was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aionova.drivers.amqp import AmqpDriver, parse_url
from aionova.rpc import MessagingTimeout, RPCClient, Target, get_rpc_server, get_rpc_transport

pytestmark = pytest.mark.rabbit

HEARTBEAT = 2  # seconds, negotiated with the broker
# aiormq declares the connection dead after (heartbeat + 1) * 3 s without a frame,
# checked every heartbeat / 2 s; a little slack for the close callbacks.
DETECTION_BOUND = (HEARTBEAT + 1) * 3 + HEARTBEAT / 2 + 2


class FreezableProxy:
    """127.0.0.1 proxy to the broker; ``freeze()`` stops forwarding, sockets stay open."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.accepted = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FreezableProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.thaw()  # let the pipes see their sockets go
        for writer in list(self._writers):
            writer.transport.abort()
        async with asyncio.timeout(5):
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

    def freeze(self) -> None:
        """Stop moving bytes, in both directions, on every connection, old and new."""
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._tasks.discard(task)
            self._writers.difference_update((writer, up_writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                await self.flowing.wait()
                data = await reader.read(65536)
                if not data:
                    break
                await self.flowing.wait()  # frozen meanwhile: hold the bytes
                writer.write(data)
                await writer.drain()
        writer.close()


class Worker:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.arrived = asyncio.Event()

    def ping(self, ctxt: dict[str, Any]) -> str:
        return "pong"

    def note(self, ctxt: dict[str, Any], n: int) -> None:
        self.seen.append(n)
        self.arrived.set()


async def wait_until(predicate: Callable[[], bool], within: float) -> None:
    """Poll ``predicate`` until true; TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.05)


async def outage_and_recovery(
    proxy: FreezableProxy,
    driver: AmqpDriver,
    client: RPCClient,
    worker: Worker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Freeze the path, watch the driver notice it, thaw it, watch it recover."""
    connectors = (driver._pub_conn, driver._sub_conn)
    proxy.freeze()
    # A cast during the outage: retry=None publishes until it can, so it must not be
    # lost; a call is bounded by its timeout (MessagingTimeout).
    cast = asyncio.create_task(client.cast({}, "note", n=1))
    try:
        with pytest.raises(MessagingTimeout):
            async with asyncio.timeout(1 + 2):
                await client.prepare(timeout=1).call({}, "ping")

        # Only the heartbeat can tell: no FIN, no RST, the sockets stay open.
        await wait_until(lambda: not any(c.is_connected for c in connectors), DETECTION_BOUND)
        lost = {r.getMessage() for r in caplog.records if "connection lost" in r.getMessage()}
        assert lost == {
            "AMQP publish: connection lost; reconnecting",
            "AMQP consume: connection lost; reconnecting",
        }
        assert not cast.done(), f"the cast did not wait for the connection: {cast}"

        proxy.thaw()
        await wait_until(lambda: all(c.is_connected for c in connectors), 20)
        assert driver.connections["publish"] >= 2 and driver.connections["consume"] >= 2
        async with asyncio.timeout(20):
            await cast  # published on the new connection
            await worker.arrived.wait()
            assert await client.call({}, "ping") == "pong"
    finally:
        cast.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cast


async def test_silent_connection_detected_by_heartbeat_and_recovered(
    rabbit_url: str, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drivers.amqp")
    broker = parse_url(rabbit_url).hosts[0]
    async with FreezableProxy(broker.host, broker.port) as proxy:
        url = (
            f"rabbit://{broker.username}:{broker.password}@127.0.0.1:{proxy.port}/"
            f"?heartbeat_timeout_threshold={HEARTBEAT}&connect_timeout=2"
            "&rabbit_retry_interval=0.2&rabbit_retry_backoff=0.2&rabbit_interval_max=1"
        )
        worker = Worker()
        async with (
            get_rpc_transport(url) as transport,
            get_rpc_server(transport, Target(topic=topic, server="s"), [worker]),
        ):
            driver = transport._driver
            assert isinstance(driver, AmqpDriver)
            assert driver.settings.heartbeat == HEARTBEAT
            client = RPCClient(transport, Target(topic=topic), timeout=5)
            assert await client.call({}, "ping") == "pong"
            assert driver.connections == {"publish": 1, "consume": 1}
            await outage_and_recovery(proxy, driver, client, worker, caplog)
            assert worker.seen == [1]
        assert proxy.accepted >= 4  # the two first connections and at least two new ones


async def test_heartbeat_zero_disables_it(rabbit_url: str) -> None:
    """``heartbeat_timeout_threshold=0`` negotiates no heartbeat (a silent path stays up)."""
    driver = AmqpDriver(f"{rabbit_url}?heartbeat_timeout_threshold=0")
    try:
        conn = await driver._pub_conn.get()
        underlay = conn.transport
        assert underlay is not None
        assert underlay.connection.heartbeat_timeout == 0
    finally:
        await driver.close()
