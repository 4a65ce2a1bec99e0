"""Measurement plumbing shared by every peer: percentiles, CPU meters, tallies, results."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psutil

CONTEXT = {"user_id": "bench-user", "project_id": "bench-project", "request_id": "req-bench"}


def payload(size: int) -> str:
    """The argument every peer sends: ``size`` ASCII characters."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class Result:
    """One measured pattern of one peer; ``extra`` holds CPU and error counts."""

    peer: str
    pattern: str
    concurrency: int
    ops: int
    seconds: float
    p50_ms: float
    p99_ms: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row.update(row.pop("extra"))
        row["ops_per_s"] = round(self.ops_per_s, 1)
        return row


def summarize(
    peer: str, pattern: str, concurrency: int, latencies: list[float], seconds: float
) -> Result:
    """A Result from per-operation latencies (seconds) over ``seconds`` of wall time."""
    latencies.sort()
    return Result(
        peer=peer,
        pattern=pattern,
        concurrency=concurrency,
        ops=len(latencies),
        seconds=seconds,
        p50_ms=round(percentile(latencies, 50) * 1e3, 4),
        p99_ms=round(percentile(latencies, 99) * 1e3, 4),
    )


def broker_process(url: str) -> psutil.Process | None:
    """The RabbitMQ node (``beam.smp``) serving ``url``'s first host:port, if local.

    Several nodes may run on one machine (one per test run): the one that
    listens on the URL's port is ours; its ``RABBITMQ_NODE_PORT`` (set by
    ``scripts/rabbitmq.sh`` for a node off 5672) tells when the sockets of
    another user cannot be read. None when no local node is found.
    """
    port = urlsplit(url.split(",")[0]).port or 5672
    beams = [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("beam.smp", "beam")]
    for proc in beams:
        try:
            if any(
                c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                for c in proc.net_connections(kind="tcp")
            ):
                return proc
        except psutil.Error:
            continue
    for proc in beams:
        try:
            node_port = proc.environ().get("RABBITMQ_NODE_PORT")
        except psutil.Error:
            continue
        if node_port == str(port) or (node_port is None and port == 5672):
            return proc
    return None


def _cpu(proc: psutil.Process) -> float:
    try:
        times = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


class CpuMeter:
    """Process CPU seconds of this process, an optional server process and the broker.

    ``broker_url``: measure the RabbitMQ node that serves it (``broker_process``).
    """

    def __init__(self, server_pid: int | None = None, broker_url: str | None = None) -> None:
        self._server = psutil.Process(server_pid) if server_pid else None
        node = broker_process(broker_url) if broker_url else None
        self._broker = [node] if node is not None else []

    def sample(self) -> tuple[float, float, float]:
        client = time.process_time()  # every thread of this process
        server = _cpu(self._server) if self._server else 0.0
        broker = sum(_cpu(p) for p in self._broker)
        return client, server, broker

    def per_op(self, before: tuple[float, float, float], ops: int) -> dict[str, float]:
        """CPU µs per operation since ``before`` as result keys."""
        after = self.sample()
        n = max(ops, 1)
        client, server, broker = ((a - b) * 1e6 / n for a, b in zip(after, before, strict=True))
        keys = {"cpu_us_per_op": round(client + server, 2)}
        if self._server is not None:
            keys["client_cpu_us_per_op"] = round(client, 2)
            keys["server_cpu_us_per_op"] = round(server, 2)
        if self._broker:
            keys["broker_cpu_us_per_op"] = round(broker, 2)
        return keys


class Tally:
    """Counts processed casts, in the server; ``snapshot()`` is what ``stats`` returns."""

    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0

    def hit(self) -> None:
        self.last = time.monotonic()
        self.count += 1

    def snapshot(self) -> list[float]:
        """``[count, monotonic time of the last hit]``; monotonic is system-wide on Linux."""
        return [self.count, self.last]


class AsyncTally(Tally):
    """A Tally one event loop can wait on (client and server in one loop)."""

    def __init__(self) -> None:
        super().__init__()
        self._target = 1 << 62
        self._event = asyncio.Event()

    def hit(self) -> None:
        self.last = time.monotonic()
        self.count += 1
        if self.count >= self._target:
            self._event.set()

    async def wait_for(self, count: int) -> None:
        while self.count < count:
            self._target = count
            self._event.clear()
            await self._event.wait()


class ThreadTally(Tally):
    """A Tally hit from server threads and waited on from client threads."""

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()

    def hit(self) -> None:
        with self._cond:
            self.last = time.monotonic()
            self.count += 1
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.count >= count, timeout)
