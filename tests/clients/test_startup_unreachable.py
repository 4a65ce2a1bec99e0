"""A daemon started while its broker is unreachable: a clear log line per attempt, a
retry with back-off, a start as soon as the broker answers, a clean stop meanwhile."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.clients.conftest import Process, free_port

pytestmark = pytest.mark.rabbit


class LateProxy:
    """A loopback TCP proxy to the broker that starts listening only when told to."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None

    def open(self) -> None:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._pipe_both, "127.0.0.1", self.port)

        self._server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    async def _pipe_both(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task():
                        task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def proxy(rabbit_url: str) -> Iterator[LateProxy]:
    first = urlsplit(rabbit_url.split(",")[0])
    late = LateProxy((first.hostname or "127.0.0.1", first.port or 5672))
    yield late
    late.close()


def _wait_log(log: Path, text: str, count: int = 1, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        content = log.read_text() if log.exists() else ""
        if content.count(text) >= count:
            return content
        assert time.monotonic() < deadline, f"no {text!r} ({count}x) in:\n{content[-3000:]}"
        time.sleep(0.2)


def test_conductor_waits_for_an_unreachable_broker_then_starts(
    tmp_path: Path, proxy: LateProxy
) -> None:
    log = tmp_path / "conductor.log"
    url = f"rabbit://guest:guest@127.0.0.1:{proxy.port}/?control_exchange=late_{proxy.port}"
    args = ["conductor", "--host", "late-ctl", "--transport-url", url]
    proc = Process([*args, "--database", str(tmp_path / "n.sqlite")], log)
    try:
        content = _wait_log(log, "nova-conductor on late-ctl cannot start", count=2)
        assert f"127.0.0.1:{proxy.port}" in content and "retrying in" in content
        assert "guest:guest" not in content  # credentials are not logged
        proxy.open()
        _wait_log(log, "nova-conductor on late-ctl started")
    finally:
        rc = proc.stop()
    assert rc == 0 and "Traceback" not in log.read_text()


def test_sigterm_while_waiting_for_the_broker_stops_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "scheduler.log"
    url = f"rabbit://guest:guest@127.0.0.1:{free_port()}/"
    args = ["scheduler", "--host", "lonely", "--transport-url", url]
    proc = Process([*args, "--database", str(tmp_path / "n.sqlite")], log)
    try:
        _wait_log(log, "nova-scheduler on lonely cannot start")
    finally:
        rc = proc.stop(timeout=20)
    assert rc == 0 and "Traceback" not in log.read_text()
