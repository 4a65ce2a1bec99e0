"""URL → settings and topology naming: pure functions, no broker."""

from __future__ import annotations

import re

import pytest
from aionova.drivers.amqp.messages import BadMessage, body_of, expiration_ms, properties
from aionova.drivers.amqp.naming import (
    fanout_exchange,
    publish_address,
    reply_queue,
    server_queues,
    shared_queue_arguments,
)
from aionova.drivers.amqp.retrying import attempts_for
from aionova.drivers.amqp.settings import AmqpSettings, Host, parse_url
from aionova.rpc._target import Target

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_default_url_is_guest_on_localhost() -> None:
    settings = parse_url("rabbit:///")
    assert settings.hosts == (Host("localhost", 5672, "guest", "guest"),)
    assert settings.virtual_host == "/"
    assert settings.control_exchange == "openstack"


def test_defaults_follow_oslo_messaging() -> None:
    s = AmqpSettings()
    assert (s.durable_queues, s.auto_delete, s.quorum_queues, s.prefetch) == (
        False,
        False,
        False,
        0,
    )
    assert (s.heartbeat, s.transient_queues_ttl, s.missing_consumer_retry_timeout) == (60, 1800, 60)
    assert [s.backoff(n) for n in (1, 2, 3, 10, 100)] == [1, 3, 5, 19, 30]


def test_several_hosts_vhost_and_missing_port() -> None:
    s = parse_url("rabbit://u1:p%40ss@h1:5673,u2:p2@h2/my%2Fvhost")
    assert s.hosts == (Host("h1", 5673, "u1", "p@ss"), Host("h2", 5672, "u2", "p2"))
    assert s.virtual_host == "my/vhost"


def test_ipv6_host() -> None:
    (host,) = parse_url("rabbit://guest:guest@[::1]:5673/").hosts
    assert (host.host, host.port) == ("::1", 5673)


def test_query_options_and_oslo_aliases() -> None:
    s = parse_url(
        "rabbit://h/?heartbeat=30&prefetch=10&amqp_durable_queues=true"
        "&rabbit_transient_queues_ttl=60&control_exchange=nova&at_least_once=1"
        "&rabbit_retry_interval=0.5&kombu_missing_consumer_retry_timeout=5"
    )
    assert s.heartbeat == 30 and s.prefetch == 10 and s.durable_queues
    assert s.transient_queues_ttl == 60 and s.control_exchange == "nova" and s.at_least_once
    assert s.retry_interval == 0.5 and s.missing_consumer_retry_timeout == 5


def test_unknown_option_is_ignored_and_bad_value_rejected() -> None:
    assert parse_url("rabbit://h/?kombu_reconnect_delay=2").hosts[0].host == "h"
    with pytest.raises(ValueError, match="boolean"):
        parse_url("rabbit://h/?amqp_durable_queues=maybe")
    with pytest.raises(ValueError):
        parse_url("http://h/")


def test_tls_by_scheme_or_option() -> None:
    s = parse_url("amqps://guest:guest@h/")
    assert s.ssl and s.hosts[0].port == 5671
    s = parse_url("rabbit://h/?ssl=1&ssl_verify=false")
    assert s.ssl and s.ssl_context() is not None
    assert parse_url("rabbit://h/").ssl_context() is None


def test_publish_addresses() -> None:
    s = AmqpSettings()
    exchange, key = publish_address(s, Target(topic="t"))
    assert (exchange.name, exchange.type, exchange.durable, key) == (
        "openstack",
        "topic",
        False,
        "t",
    )
    exchange, key = publish_address(s, Target(topic="t", server="h1", exchange="nova"))
    assert (exchange.name, key) == ("nova", "t.h1")
    # fanout wins over server and ignores the exchange
    exchange, key = publish_address(s, Target(topic="t", server="h1", exchange="x", fanout=True))
    assert (exchange.name, exchange.type, exchange.auto_delete, key) == (
        "t_fanout",
        "fanout",
        True,
        "",
    )


def test_server_queues_match_oslo() -> None:
    topic_q, server_q, fanout_q = server_queues(AmqpSettings(), Target(topic="t", server="h1"))
    for q in (topic_q, server_q):
        assert (q.durable, q.auto_delete, q.exclusive, dict(q.arguments)) == (
            False,
            False,
            False,
            {},
        )
        assert q.exchange is not None and q.exchange.name == "openstack"
    assert (topic_q.name, topic_q.routing_key) == ("t", "t")
    assert (server_q.name, server_q.routing_key) == ("t.h1", "t.h1")
    assert fanout_q.name.startswith("t_fanout_") and HEX32.match(fanout_q.name[9:])
    assert dict(fanout_q.arguments) == {"x-expires": 1800000}
    assert (fanout_q.durable, fanout_q.auto_delete, fanout_q.routing_key) == (False, False, "t")
    assert fanout_q.exchange == fanout_exchange(AmqpSettings(), "t")


def test_reply_queue_matches_oslo() -> None:
    q = reply_queue(AmqpSettings())
    assert q.name.startswith("reply_") and HEX32.match(q.name[6:])
    assert (q.durable, q.auto_delete, q.exclusive, q.exchange) == (False, False, False, None)
    assert dict(q.arguments) == {"x-expires": 1800000}


def test_durable_quorum_and_at_least_once_options() -> None:
    assert shared_queue_arguments(AmqpSettings(quorum_queues=True)) == {"x-queue-type": "quorum"}
    assert shared_queue_arguments(AmqpSettings(ha_queues=True)) == {"x-ha-policy": "all"}
    topic_q, _, fanout_q = server_queues(AmqpSettings(at_least_once=True), Target(topic="t"))
    assert topic_q.durable and topic_q.exchange is not None and topic_q.exchange.durable
    assert not fanout_q.durable


def test_message_properties_and_expiration() -> None:
    props = properties(expiration_ms(10))
    assert (props.content_type, props.content_encoding, props.delivery_mode) == (
        "application/json",
        "utf-8",
        2,
    )
    assert props.expiration == "10000"
    assert expiration_ms(0) == "0" and expiration_ms(None) is None and expiration_ms(0.0015) == "1"


def test_retry_to_attempts() -> None:
    assert [attempts_for(r) for r in (None, -1, 0, 1, 4)] == [None, None, 1, 2, 5]


def test_incoming_checks() -> None:
    ok = b'{"a": 1}'
    assert body_of(ok, "application/json", "utf-8", {}, 100) == ok
    with pytest.raises(BadMessage, match="content type"):
        body_of(ok, "text/plain", "utf-8", {}, 100)
    with pytest.raises(BadMessage, match="content type"):
        body_of(ok, None, None, None, 100)
    with pytest.raises(BadMessage, match="max_message_size"):
        body_of(ok * 20, "application/json", "utf-8", {}, 100)
    with pytest.raises(BadMessage, match="encoding"):
        body_of(ok, "application/json", "latin-9000", {}, 100)
    import zlib

    packed = zlib.compress(ok)
    assert (
        body_of(packed, "application/json", "utf-8", {"compression": "application/x-gzip"}, 100)
        == ok
    )
    with pytest.raises(BadMessage, match="decompress"):
        body_of(b"junk", "application/json", "utf-8", {"compression": "application/x-gzip"}, 100)
