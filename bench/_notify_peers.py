"""One notification peer in a fresh process; prints its results as one JSON line.

    python -m bench._notify_peers --peer aionova --transport rabbit://… --seconds 2

Patterns: ``send`` (``info()`` from ``--concurrency`` senders: asyncio tasks
for aionova, threads for oslo.messaging, each waiting for the broker's
confirm), ``send_seq`` (one sender: latency) and ``listen`` (``--backlog``
notifications waiting in the queue, consumed by a listener; the figure is
notifications handled per second). Every peer sends the same payload and
context to its own topic on the same broker; the queues go at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
import uuid
import warnings
from typing import Any

import aio_pika
from aionova.drivers.amqp import parse_url
from aionova.drivers.amqp.connection import broker_url

from aionova import rpc
from bench._stats import CONTEXT, AsyncTally, CpuMeter, Result, ThreadTally, payload, summarize

PEERS = ("aionova", "oslo.messaging")
EVENT = "bench.instance.event"


def _topics() -> tuple[str, str]:
    """A topic for the send patterns and a fresh one whose queue holds the backlog."""
    topic = f"bench_notify_{uuid.uuid4().hex[:8]}"
    return topic, f"{topic}_backlog"


async def _drop_queues(url: str, *topics: str) -> None:
    if not url.startswith("rabbit"):
        return
    settings = parse_url(url)
    connection = await aio_pika.connect(str(broker_url(settings, settings.hosts[0])))
    try:
        channel = await connection.channel()
        for topic in topics:
            await channel.queue_delete(f"{topic}.info")
    finally:
        await connection.close()


def _measure(
    name: str, peer: str, conc: int, started: float, lat: list[float], cpu: Any, before: Any
) -> Result:
    elapsed = time.perf_counter() - started
    result = summarize(peer, name, conc, lat, elapsed)
    result.extra.update(cpu.per_op(before, result.ops))
    return result


# -- aionova ---------------------------------------------------------------


async def _aionova_send(
    notifier: rpc.Notifier, data: dict[str, Any], seconds: float, conc: int, cpu: CpuMeter
) -> Result:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def sender() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await notifier.info(CONTEXT, EVENT, data)
            latencies.append(time.perf_counter() - start)

    before, started = cpu.sample(), time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(conc)))
    return _measure(
        "send_seq" if conc == 1 else "send", "aionova", conc, started, latencies, cpu, before
    )


class _Counter:
    def __init__(self, tally: AsyncTally) -> None:
        self.tally = tally

    def info(self, ctxt: Any, publisher: Any, event_type: str, payload: Any, md: Any) -> None:
        self.tally.hit()


async def _aionova_listen(
    transport: rpc.Transport, topic: str, backlog: int, cpu: CpuMeter
) -> Result:
    tally = AsyncTally()
    listener = rpc.get_notification_listener(
        transport, [rpc.Target(topic=topic)], [_Counter(tally)]
    )
    before, started = cpu.sample(), time.perf_counter()
    async with listener:
        await asyncio.wait_for(tally.wait_for(backlog), timeout=300)
        elapsed = time.perf_counter() - started
    result = Result("aionova", "listen", 1, backlog, elapsed, 0.0, 0.0)
    result.extra.update(cpu.per_op(before, backlog))
    return result


async def run_aionova(args: argparse.Namespace) -> list[Result]:
    topic, backlog_topic = _topics()
    data = {"data": payload(args.payload_bytes), "instance_id": str(uuid.uuid4())}
    cpu = CpuMeter(broker_url=args.transport if args.transport.startswith("rabbit") else None)
    results = []
    try:
        async with rpc.get_notification_transport(args.transport) as transport:
            notifier = rpc.Notifier(transport, "bench.host", topics=[topic])
            await _aionova_send(notifier, data, args.warmup, 4, cpu)
            results.append(await _aionova_send(notifier, data, args.seconds, 1, cpu))
            conc = args.concurrency
            results.append(await _aionova_send(notifier, data, args.seconds, conc, cpu))
            filler = rpc.Notifier(transport, "bench.host", topics=[backlog_topic])
            for _ in range(args.backlog):
                await filler.info(CONTEXT, EVENT, data)
            results.append(await _aionova_listen(transport, backlog_topic, args.backlog, cpu))
    finally:
        await _drop_queues(args.transport, topic, backlog_topic)
    return results


# -- oslo.messaging ----------------------------------------------------------


def _oslo_send(
    notifier: Any, data: dict[str, Any], seconds: float, conc: int, cpu: CpuMeter
) -> Result:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def sender() -> None:
        mine = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            notifier.info(CONTEXT, EVENT, data)
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=sender) for _ in range(conc)]
    before, started = cpu.sample(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pattern = "send_seq" if conc == 1 else "send"
    return _measure(pattern, "oslo.messaging", conc, started, latencies, cpu, before)


def _oslo_listen(transport: Any, topic: str, backlog: int, cpu: CpuMeter) -> Result:
    import oslo_messaging

    tally = ThreadTally()

    class Counter:
        def info(self, ctxt: Any, publisher: Any, event_type: str, payload: Any, md: Any) -> None:
            tally.hit()

    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=topic)], [Counter()], executor="threading"
    )
    before, started = cpu.sample(), time.perf_counter()
    listener.start()
    tally.wait_for(backlog, timeout=300)
    elapsed = time.perf_counter() - started
    listener.stop()
    listener.wait()
    result = Result("oslo.messaging", "listen", 1, tally.count, elapsed, 0.0, 0.0)
    result.extra.update(cpu.per_op(before, tally.count))
    return result


def run_oslo(args: argparse.Namespace) -> list[Result]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oslo_messaging

        from bench._oslo import _conf

    topic, backlog_topic = _topics()
    data = {"data": payload(args.payload_bytes), "instance_id": str(uuid.uuid4())}
    cpu = CpuMeter(broker_url=args.transport)
    transport = oslo_messaging.get_notification_transport(_conf(), url=args.transport)
    try:
        notifier = oslo_messaging.Notifier(
            transport, "bench.host", driver="messagingv2", topics=[topic]
        )
        _oslo_send(notifier, data, args.warmup, 4, cpu)
        results = [
            _oslo_send(notifier, data, args.seconds, 1, cpu),
            _oslo_send(notifier, data, args.seconds, args.concurrency, cpu),
        ]
        filler = oslo_messaging.Notifier(
            transport, "bench.host", driver="messagingv2", topics=[backlog_topic]
        )
        for _ in range(args.backlog):
            filler.info(CONTEXT, EVENT, data)
        results.append(_oslo_listen(transport, backlog_topic, args.backlog, cpu))
    finally:
        transport.cleanup()
        asyncio.run(_drop_queues(args.transport, topic, backlog_topic))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._notify_peers")
    parser.add_argument("--peer", choices=PEERS, required=True)
    parser.add_argument("--transport", required=True)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--payload-bytes", type=int, default=100)
    args = parser.parse_args(argv)
    results = asyncio.run(run_aionova(args)) if args.peer == "aionova" else run_oslo(args)
    print(json.dumps([r.to_json() for r in results]), flush=True)


if __name__ == "__main__":
    sys.exit(main())
