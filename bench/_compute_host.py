"""Fake computes in child processes for ``boot_storm --compute-processes N``.

Child side (one process, many compute Services on one transport)::

    BENCH_TRANSPORT_URL=rabbit://… python -m bench._compute_host --hosts cmp00000,cmp00004 \
        [--notifications both]

The URL comes through the environment (no password in ``ps``). The child
writes one JSON line on stdout when every compute is up (``{"ready": …}``),
answers each ``stats`` line on stdin with ``{"messages": …, "notifications": …,
"peak_rss_mb": …}`` (RPC messages its transport sent: requests and replies,
``Transport.statistics``; notifications its computes sent),
and on EOF of stdin, ``stop``, SIGTERM or SIGINT stops its computes (bounded),
writes a last stats line and exits. A parent that dies
closes the pipe, so a child never outlives the bench.

Parent side: ``Fleet`` spreads host names over N children and always reaps
them (close stdin, bounded wait, then terminate, then kill).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aionova.utils import best_effort

ENV_URL = "BENCH_TRANSPORT_URL"
START_BATCH = 25  # computes started at once per child
STOP_TIMEOUT = 20.0  # a child's graceful stop of all its computes
REAP_TIMEOUT = 30.0  # parent: wait for a child's exit after closing its stdin
KILL_TIMEOUT = 5.0  # parent: after terminate, then after kill


def private_url(url: str, run: str | None = None) -> str:
    """``url`` with ``control_exchange=bench_storm_<id>`` unless it names one already."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "control_exchange" for k, _ in query):
        return url
    query.append(("control_exchange", f"bench_storm_{run or uuid.uuid4().hex[:8]}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def run_label(url: str) -> str:
    """The run's control exchange (what names its children and its own queues)."""
    return dict(parse_qsl(urlsplit(url).query)).get("control_exchange", "")


async def drop_exchange(
    url: str, queues: Sequence[str] = (), *, exchange: bool = True, timeout: float = 10.0
) -> None:
    """Best effort: delete the run's private control exchange (and so its bindings; not
    when ``exchange`` is False: the caller's), and ``queues`` of the run's own (its
    notification topics).

    The topic queues (``conductor``, ``compute.cmp00000`` …) are named by topic
    only, as oslo.messaging names them, so they outlive the run and are shared
    by every exchange on the broker: a private exchange keeps stray bindings
    apart, it does not isolate two runs going on at the same time.
    """
    import aio_pika
    from aionova.drivers.amqp.settings import parse_url

    settings = parse_url(url)
    host = settings.hosts[0]

    async def drop() -> None:
        connection = await aio_pika.connect(
            host=host.host,
            port=host.port,
            login=host.username,
            password=host.password,
            virtualhost=settings.virtual_host,
        )
        async with connection:
            channel = await connection.channel()
            if exchange:
                await channel.exchange_delete(settings.control_exchange)
            for queue in queues:
                await channel.queue_delete(queue)

    what = f"dropping the bench exchange {settings.control_exchange}"
    await best_effort(what, asyncio.wait_for(drop(), timeout))


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- child ----------------------------------------------------------------------------


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def _stats(transport: Any, services: list[Any]) -> dict[str, Any]:
    return {
        "messages": transport.statistics().messages_sent,
        "notifications": sum(s.manager.notifier.emitter.sent for s in services),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _read_stdin(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
    """Thread: forward stdin lines to the loop; ``None`` on EOF."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(lines.put_nowait, line.strip())
    loop.call_soon_threadsafe(lines.put_nowait, None)


async def host_computes(url: str, hosts: list[str], notifications: str = "off") -> None:
    """Start a compute Service per host, serve stats requests, stop on EOF or a signal."""
    from aionova import messaging
    from aionova.compute.manager import ComputeManager
    from aionova.service import Service
    from aionova.virt.fake import FakeDriver
    from bench.boot_storm import HOST, _config

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    main_task, ready = asyncio.current_task(), False

    def on_signal() -> None:
        lines.put_nowait(None)
        if not ready and main_task is not None:
            main_task.cancel()  # still starting: give up now (the finally stops what started)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    threading.Thread(target=_read_stdin, args=(loop, lines), daemon=True).start()
    config = _config(notifications, f"{run_label(url)}_")
    transport = messaging.get_transport(url)
    services: list[Service] = []
    try:
        for start in range(0, len(hosts), START_BATCH):
            batch = [
                Service(
                    "nova-compute",
                    "compute",
                    host,
                    ComputeManager(host, config, transport, FakeDriver(**HOST)),
                )
                for host in hosts[start : start + START_BATCH]
            ]
            services.extend(batch)
            await asyncio.gather(*(s.start() for s in batch))
        ready = True
        _emit({"ready": True, "computes": len(services), "pid": os.getpid()})
        while (line := await lines.get()) not in (None, "stop"):
            if line == "stats":
                joined = asyncio.gather(*(s.manager.notifier.join() for s in services))
                await best_effort("sending the queued notifications", joined)
                _emit(_stats(transport, services))
    finally:
        try:
            await asyncio.wait_for(
                asyncio.gather(*(s.stop() for s in services), return_exceptions=True),
                STOP_TIMEOUT,
            )
        except TimeoutError:
            await asyncio.gather(*(s.kill() for s in services), return_exceptions=True)
        await best_effort(
            "closing the transport", asyncio.wait_for(transport.close(), STOP_TIMEOUT)
        )
    _emit(_stats(transport, services))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._compute_host")
    parser.add_argument("--hosts", required=True, help="comma-separated compute host names")
    parser.add_argument("--run", default="", help="a label for ps (the run's control exchange)")
    parser.add_argument("--notifications", default="off", help="notification format, or off")
    args = parser.parse_args(argv)
    url = os.environ.get(ENV_URL)
    if not url:
        sys.exit(f"{ENV_URL} is not set")
    try:
        from aionova.service import tune_gc  # children import aionova lazily, as above

        tune_gc()
        asyncio.run(host_computes(url, args.hosts.split(","), args.notifications))
    except asyncio.CancelledError:
        sys.exit(1)


# -- parent ---------------------------------------------------------------------------


class Fleet:
    """N child processes hosting the computes, all on one transport URL."""

    def __init__(self, url: str, processes: int, notifications: str = "off") -> None:
        self.url = url
        self.processes = processes
        self.notifications = notifications
        self.procs: list[asyncio.subprocess.Process] = []
        self.peak_rss_mb: dict[int, float] = {}

    async def start(self, hosts: list[str], timeout: float) -> None:
        """Spawn the children (host i goes to child i mod N); wait until every one is READY."""
        env = {**os.environ, ENV_URL: self.url}
        label = run_label(self.url)
        for index in range(min(self.processes, len(hosts))):
            mine = hosts[index :: self.processes]
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench._compute_host",
                "--hosts",
                ",".join(mine),
                "--run",
                label,
                "--notifications",
                self.notifications,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,  # Ctrl-C reaches the bench only; it stops the children
            )
            self.procs.append(proc)
        ready = await asyncio.wait_for(asyncio.gather(*map(self._line, self.procs)), timeout)
        if not all(r.get("ready") for r in ready):
            raise RuntimeError(f"a compute process failed to start: {ready}")

    async def _line(self, proc: asyncio.subprocess.Process) -> dict[str, Any]:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if not line:
            code = await proc.wait()
            raise RuntimeError(f"compute process {proc.pid} exited ({code})")
        data: dict[str, Any] = json.loads(line)
        if "peak_rss_mb" in data:
            self.peak_rss_mb[proc.pid] = data["peak_rss_mb"]
        return data

    async def messages_sent(self, timeout: float = 60.0) -> int:
        """RPC messages sent so far by all children (each asked for its counter)."""
        return await self._total("messages", timeout)

    async def notifications_sent(self, timeout: float = 60.0) -> int:
        """Notifications sent so far by all children (once their queues are sent)."""
        return await self._total("notifications", timeout)

    async def _total(self, key: str, timeout: float) -> int:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(b"stats\n")
        stats = await asyncio.wait_for(asyncio.gather(*map(self._line, self.procs)), timeout)
        return sum(int(s[key]) for s in stats)

    async def stop(self) -> None:
        """Close every child's stdin, read its last stats; terminate, then kill, stragglers."""
        await asyncio.gather(*map(self._reap, self.procs), return_exceptions=True)

    async def _reap(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            last = asyncio.wait_for(self._last_line(proc), REAP_TIMEOUT)
            await best_effort(f"reading the last stats of compute process {proc.pid}", last)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.returncode is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), KILL_TIMEOUT)

    async def _last_line(self, proc: asyncio.subprocess.Process) -> None:
        """Read up to EOF (the final stats line is the last one), then wait for the exit."""
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if "peak_rss_mb" in data:
                    self.peak_rss_mb[proc.pid] = data["peak_rss_mb"]
        await proc.wait()

    def kill_now(self) -> None:
        """Synchronous last resort (no event loop needed): SIGKILL every live child."""
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
