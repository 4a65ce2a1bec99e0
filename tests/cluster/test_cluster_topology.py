"""On the real three-node cluster: what the options declare, and where a driver fails over to."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
from aionova.drivers.amqp import AmqpDriver
from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.settings import parse_url

from aionova import rpc
from tests.cluster.cluster import Cluster

pytestmark = pytest.mark.cluster
CTX: dict[str, str] = {}


class Echo:
    def __init__(self) -> None:
        self.casts: list[int] = []

    async def echo(self, ctxt: object, value: int) -> int:
        return value

    async def record(self, ctxt: object, value: int) -> None:
        self.casts.append(value)


@pytest.fixture
def topic(cluster: Cluster) -> Iterator[str]:
    name = f"cl_{uuid.uuid4().hex[:10]}"
    yield name
    cluster.delete_queues(name)


async def test_quorum_options_declare_replicated_queues(cluster: Cluster, topic: str) -> None:
    url = cluster.url(
        rabbit_quorum_queue=True,
        rabbit_transient_quorum_queue=True,
        rabbit_quorum_delivery_limit=5,
        rabbit_transient_queues_ttl=120,
    )
    driver = AmqpDriver(url)
    try:
        await driver.listen(rpc.Target(topic=topic, server="h1"), lambda d: None)
        reply = await driver.reply_address(lambda body: None)
        queues = cluster.queues()
        members = sorted(f"rabbit{port}@localhost" for port in cluster.ports)
        for name in (topic, f"{topic}.h1"):
            q = queues[name]
            assert (q["type"], q["durable"]) == ("quorum", True), q
            assert q["arguments"] == {"x-queue-type": "quorum", "x-delivery-limit": 5}
            assert sorted(q["members"]) == members  # a replica on every node
        fanout = next(n for n in queues if n.startswith(f"{topic}_fanout_"))
        for name in (fanout, reply):
            q = queues[name]
            assert (q["type"], q["durable"]) == ("quorum", True), q
            assert q["arguments"] == {
                "x-queue-type": "quorum",
                "x-delivery-limit": 5,
                "x-expires": 120_000,
            }
    finally:
        await driver.close()
        cluster.delete_queues(reply)


async def test_default_transient_queues_stay_classic(cluster: Cluster, topic: str) -> None:
    driver = AmqpDriver(cluster.url(rabbit_quorum_queue=True))
    try:
        await driver.listen(rpc.Target(topic=topic, server="h1"), lambda d: None)
        reply = await driver.reply_address(lambda body: None)
        queues = cluster.queues()
        assert queues[topic]["type"] == "quorum"
        assert queues[topic]["arguments"] == {"x-queue-type": "quorum"}  # no limit: none sent
        assert (queues[reply]["type"], queues[reply]["durable"]) == ("classic", False)
        assert queues[reply]["arguments"] == {"x-expires": 1_800_000}
    finally:
        await driver.close()
        cluster.delete_queues(reply)


async def _rpc_works(client: rpc.RPCClient, echo: Echo, value: int) -> None:
    # A call is at most once and unconfirmed: one sent on a connection the stopped
    # node was closing is lost and ends in MessagingTimeout; the caller tries again.
    async with asyncio.timeout(60):
        while True:
            try:
                assert await client.prepare(timeout=5).call(CTX, "echo", value=value) == value
                break
            except rpc.MessagingTimeout:
                continue
    await client.cast(CTX, "record", value=value)  # confirmed: retried across the failover
    async with asyncio.timeout(30):
        while value not in echo.casts:
            await asyncio.sleep(0.05)


async def test_round_robin_failover_order_and_rpc_through_it(cluster: Cluster, topic: str) -> None:
    """Round-robin: the first host, then on each loss the next one in the URL."""
    url = cluster.url(
        rabbit_quorum_queue=True,
        rabbit_transient_quorum_queue=True,
        kombu_failover_strategy="round-robin",
        heartbeat_timeout_threshold=5,
        rabbit_retry_interval=0.5,
    )
    first, second, third = cluster.ports
    probe = Connector(parse_url(url), "probe")
    echo = Echo()
    transport = rpc.get_rpc_transport(url, response_timeout=30)
    server = rpc.get_rpc_server(transport, rpc.Target(topic=topic, server="h1"), [echo])
    client = rpc.RPCClient(transport, rpc.Target(topic=topic))
    try:
        await probe.get()
        assert probe.host is not None and probe.host.port == first
        await server.start()
        await _rpc_works(client, echo, 1)
        assert cluster.ports_of_pid(os.getpid()) == {first}  # the broker agrees

        await asyncio.to_thread(cluster.stop_node, 1)
        try:
            await _rpc_works(client, echo, 2)  # reconnected by itself
            await probe.get()
            assert probe.host is not None and probe.host.port == second
            assert cluster.ports_of_pid(os.getpid()) == {second}
        finally:
            await asyncio.to_thread(cluster.start_node, 1)

        await asyncio.to_thread(cluster.stop_node, 2)
        try:
            await _rpc_works(client, echo, 3)
            await probe.get()
            # the next in the URL after the second, though the first is back
            assert probe.host is not None and probe.host.port == third
            assert cluster.ports_of_pid(os.getpid()) == {third}
        finally:
            await asyncio.to_thread(cluster.start_node, 2)
        await _rpc_works(client, echo, 4)
    finally:
        await server.stop()
        await server.wait(10)
        await transport.close()
        await probe.close()
