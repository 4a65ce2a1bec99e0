"""Run until SIGTERM/SIGINT, then stop what was started, in reverse order, with a bound."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from aionova.api import create_app
from aionova.api.compute import API
from aionova.config import ApiOpts
from aionova.db import Database

LOG = logging.getLogger("aionova.cmd")
Stopper = Callable[[], Awaitable[None]]


class Runner:
    """Collects stop callbacks; ``serve_forever`` waits for a signal, then runs them.

    Made inside the running loop, it watches SIGTERM/SIGINT from the start: a stop
    asked for while the service is still starting ends it cleanly once started.
    """

    def __init__(self) -> None:
        self._stops: list[tuple[str, Stopper]] = []
        self._done = asyncio.Event()
        self._watching = False
        self.watch_signals()

    def on_stop(self, name: str, stop: Stopper) -> None:
        self._stops.append((name, stop))

    def request_stop(self) -> None:
        self._done.set()

    def watch_signals(self) -> None:
        """SIGTERM/SIGINT request the stop from now on (idempotent)."""
        if not self._watching:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
            self._watching = True

    async def stop_requested(self, within: float) -> bool:
        """Whether a stop is requested within ``within`` seconds (waits at most that)."""
        self.watch_signals()
        try:
            async with asyncio.timeout(within):
                await self._done.wait()
        except TimeoutError:
            return False
        return True

    async def serve_forever(self) -> None:
        self.watch_signals()
        try:
            await self._done.wait()
        finally:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            self._watching = False
            await self.shutdown()

    async def shutdown(self, timeout: float = 20.0) -> None:
        LOG.info("shutting down")
        while self._stops:
            name, stop = self._stops.pop()
            try:
                async with asyncio.timeout(timeout):
                    await stop()
            except TimeoutError:
                LOG.warning("stopping %s took longer than %.0fs; abandoned", name, timeout)
            except Exception:
                LOG.exception("stopping %s failed", name)
        LOG.info("stopped")


#: aiohttp's default access line plus how long the request took, as Nova's API logs it.
ACCESS_LOG = '%a %t "%r" %s %b "%{Referer}i" "%{User-Agent}i" time: %Tf'


async def start_api(runner: Runner, api: API, db: Database, opts: ApiOpts) -> str:
    """Serve the REST API; returns its base URL."""
    app = create_app(api, db, opts)
    web_runner = web.AppRunner(
        app, access_log=logging.getLogger("aionova.api.access"), access_log_format=ACCESS_LOG
    )
    await web_runner.setup()
    site = web.TCPSite(web_runner, opts.listen, opts.port, shutdown_timeout=5.0)
    await site.start()
    addresses = web_runner.addresses  # the bound sockets: the real port when 0 was asked
    port = int(addresses[0][1]) if addresses else opts.port
    runner.on_stop("api", web_runner.cleanup)
    url = opts.public_url or f"http://{opts.listen}:{port}"
    LOG.info("API listening on %s", url)
    return url.rstrip("/")
