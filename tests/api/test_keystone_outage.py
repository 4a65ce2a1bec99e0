"""Keystone down, silent or back: a 503 within http_connect_timeout, never a hang or a
500, and requests work again by themselves. A TCP relay in front of the real Keystone
plays the outage (refusing, or accepting and never answering)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest

from tests.api.conftest import Client, MakeClient
from tests.keystone import PASSWORD, Keystone, authtoken_settings

pytestmark = pytest.mark.keystone
Mode = Literal["forward", "refuse", "silent"]


class Relay:
    """127.0.0.1:<port> → Keystone, switchable; a switch drops every open connection."""

    def __init__(self, target_port: int) -> None:
        self.mode: Mode = "forward"
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def switch(self, mode: Mode) -> None:
        self.mode = mode
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        self.switch("refuse")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            writer.close()
            return
        self._writers.add(writer)
        if self.mode == "silent":
            task = asyncio.create_task(self._swallow(reader))
        else:
            task = asyncio.create_task(self._pipe_to_keystone(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(65536):
            pass

    async def _pipe_to_keystone(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        self._writers.add(up_writer)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


@pytest.fixture
async def relay(keystone: Keystone) -> AsyncIterator[tuple[Relay, int]]:
    port = int(keystone.root.rsplit(":", 1)[1])
    relay = Relay(port)
    listen = await relay.start()
    yield relay, listen
    await relay.close()


async def _status(client: Client, headers: dict[str, str]) -> tuple[int, float, Any]:
    started = time.monotonic()
    resp = await client.get("/v2.1/servers", headers=headers)
    return resp.status, time.monotonic() - started, await resp.json()


async def test_outage_is_503_then_recovers(
    keystone: Keystone, make_client: MakeClient, relay: tuple[Relay, int]
) -> None:
    proxy, port = relay
    keystone.user("demo-member", "demo", ["member"])
    settings = authtoken_settings(
        keystone,
        auth_url=f"http://127.0.0.1:{port}/v3",
        http_connect_timeout=1.0,
        token_cache_time=0,
    )
    client = await make_client(api={"auth_strategy": "keystone"}, authtoken=settings)
    headers = {"X-Auth-Token": keystone.token("demo-member", PASSWORD, "demo")}
    assert (await _status(client, headers))[0] == 200

    proxy.switch("refuse")
    status, took, body = await _status(client, headers)
    assert status == 503 and took < 1.5, (status, took)
    assert (
        body["serviceUnavailable"]["message"] == "The Keystone service is temporarily unavailable."
    )

    proxy.switch("silent")  # accepts, never answers: bounded by http_connect_timeout
    lag = 0.0

    async def ticker() -> None:
        nonlocal lag
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lag = max(lag, time.monotonic() - before - 0.01)

    tick = asyncio.create_task(ticker())
    try:
        results = await asyncio.gather(*(_status(client, headers) for _ in range(5)))
        doc = await client.get("/v2.1/")  # the API answers meanwhile
        assert doc.status == 200
    finally:
        tick.cancel()
    for status, took, _ in results:
        assert status == 503 and 0.9 <= took < 2.5, (status, took)
    assert lag < 0.2, lag

    proxy.switch("forward")  # Keystone is back: no restart, no long negative cache
    async with asyncio.timeout(5):
        while (await _status(client, headers))[0] != 200:
            await asyncio.sleep(0.1)


async def test_unreachable_keystone_port_is_503(
    keystone: Keystone, make_client: MakeClient, relay: tuple[Relay, int]
) -> None:
    proxy, port = relay
    await proxy.close()  # nothing listens there any more
    settings = authtoken_settings(
        keystone, auth_url=f"http://127.0.0.1:{port}", http_connect_timeout=2
    )
    client = await make_client(api={"auth_strategy": "keystone"}, authtoken=settings)
    status, took, body = await _status(client, {"X-Auth-Token": "gAAAAAB-some-token"})
    assert status == 503 and took < 2.5 and "serviceUnavailable" in body
