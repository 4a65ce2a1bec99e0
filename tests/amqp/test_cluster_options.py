"""Cluster options of the rabbit:// driver: quorum arguments, TTLs, failover order (no broker)."""

from __future__ import annotations

import random

import pytest
from aionova.drivers.amqp.failover import HostCycle
from aionova.drivers.amqp.naming import reply_queue, server_queues, transient_queue_arguments
from aionova.drivers.amqp.settings import AmqpSettings, Host, parse_url
from aionova.rpc._target import Target

CLUSTER = "rabbit://u:p@127.0.0.1:5781,u:p@127.0.0.1:5782,u:p@127.0.0.1:5783/"
A, B, C = (Host("127.0.0.1", port, "u", "p") for port in (5781, 5782, 5783))


def test_oslo_names_in_the_url() -> None:
    s = parse_url(
        CLUSTER + "?rabbit_quorum_queue=true&rabbit_transient_quorum_queue=true"
        "&rabbit_quorum_delivery_limit=5&rabbit_quorum_max_memory_length=100"
        "&rabbit_quorum_max_memory_bytes=1048576&rabbit_transient_queues_ttl=60"
        "&kombu_failover_strategy=shuffle&heartbeat_timeout_threshold=10"
        "&rabbit_qos_prefetch_count=8&at_least_once=true"
    )
    assert s.hosts == (A, B, C)
    assert s.quorum_queues and s.transient_quorum_queues and s.at_least_once
    assert (s.quorum_delivery_limit, s.quorum_max_memory_length) == (5, 100)
    assert (s.quorum_max_memory_bytes, s.transient_queues_ttl) == (1048576, 60)
    assert (s.failover_strategy, s.heartbeat, s.prefetch) == ("shuffle", 10, 8)


def test_defaults_are_oslos() -> None:
    s = parse_url(CLUSTER)
    assert s.failover_strategy == "round-robin"
    assert (s.quorum_queues, s.transient_quorum_queues, s.quorum_delivery_limit) == (
        False,
        False,
        0,
    )


def test_quorum_topic_queues_carry_the_limits_that_are_set() -> None:
    s = AmqpSettings(quorum_queues=True, quorum_delivery_limit=3, quorum_max_memory_length=50)
    topic_q, server_q, fanout_q = server_queues(s, Target(topic="t", server="h"))
    quorum = {"x-queue-type": "quorum", "x-delivery-limit": 3, "x-max-in-memory-length": 50}
    assert dict(topic_q.arguments) == dict(server_q.arguments) == quorum
    assert topic_q.durable and server_q.durable and topic_q.exchange is not None
    assert topic_q.exchange.durable
    # transient queues stay classic without rabbit_transient_quorum_queue
    assert dict(fanout_q.arguments) == {"x-expires": 1_800_000} and not fanout_q.durable


def test_transient_quorum_queues() -> None:
    s = AmqpSettings(transient_quorum_queues=True, quorum_delivery_limit=2)
    reply = reply_queue(s)
    assert reply.durable
    assert dict(reply.arguments) == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 2,
        "x-expires": 1_800_000,
    }
    topic_q, _, fanout_q = server_queues(s, Target(topic="t", server="h"))
    assert dict(topic_q.arguments) == {} and not topic_q.durable
    assert fanout_q.durable and fanout_q.exchange is not None and fanout_q.exchange.durable
    assert dict(fanout_q.arguments)["x-queue-type"] == "quorum"


def test_transient_ttl_zero_sends_no_expiry() -> None:
    assert transient_queue_arguments(AmqpSettings(transient_queues_ttl=0)) == {}
    assert transient_queue_arguments(AmqpSettings(transient_queues_ttl=5)) == {"x-expires": 5000}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kombu_failover_strategy=random", "kombu_failover_strategy"),
        ("rabbit_quorum_queue=1&rabbit_ha_queues=1", "quorum or mirrored"),
        ("rabbit_transient_quorum_queue=1&rabbit_ha_queues=1", "quorum or mirrored"),
        ("rabbit_quorum_delivery_limit=-1", "0 or more"),
        ("rabbit_transient_queues_ttl=-5", "0 or more"),
        ("rabbit_quorum_delivery_limit=many", "not a number"),
        ("heartbeat_timeout_threshold=1.5.2", "not a number"),
    ],
)
def test_bad_cluster_options_are_clear_errors(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_url(f"{CLUSTER}?{query}")


def test_bad_port_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="port 'x56' is not a number"):
        parse_url("rabbit://u:p@127.0.0.1:5781,u:p@127.0.0.1:x56/")


def _take(cycle: HostCycle, n: int) -> list[int]:
    return [cycle.next().port for _ in range(n)]


def test_round_robin_follows_the_url_order() -> None:
    cycle = HostCycle((A, B, C))
    assert _take(cycle, 7) == [5781, 5782, 5783, 5781, 5782, 5783, 5781]


def test_round_robin_after_a_lost_connection_goes_to_the_next_host() -> None:
    cycle = HostCycle((A, B, C))
    assert cycle.next() == A
    cycle.connected(A)
    assert _take(cycle, 3) == [5782, 5783, 5781]  # A lost: B first, A last
    cycle.connected(C)  # B was down too; C took it
    assert _take(cycle, 3) == [5781, 5782, 5783]


def test_shuffle_tries_every_host_once_per_round_in_a_new_order() -> None:
    cycle = HostCycle((A, B, C), "shuffle", rng=random.Random(7))
    rounds = [tuple(_take(cycle, 3)) for _ in range(20)]
    assert all(sorted(r) == [5781, 5782, 5783] for r in rounds)
    assert len(set(rounds)) > 1  # not one fixed order
    cycle.connected(B)
    assert sorted(_take(cycle, 3)) == [5781, 5782, 5783]  # a whole new round after a loss


def test_cycle_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="no broker host"):
        HostCycle(())
    with pytest.raises(ValueError, match="unknown failover strategy"):
        HostCycle((A,), "closest")
