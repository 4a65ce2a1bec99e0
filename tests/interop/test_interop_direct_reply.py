"""Real oslo.messaging servers answer aionova callers on either reply path.

The default is oslo.messaging's own: a ``reply_<uuid>`` queue. With
``direct_reply_to=true`` the reply address is RabbitMQ's direct reply-to; an
oslo.messaging server publishes its reply there like to any reply queue. It
publishes replies mandatory, which RabbitMQ 3.x answers for such an address
with a return although it delivered the reply: the server then publishes it
again until ``kombu_missing_consumer_retry_timeout`` (kept short here), and
the caller drops the copies. That is why the reply queue stays the default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import oslo_messaging
import pytest
from aionova.rpc import RPCClient, Target, get_rpc_transport
from conftest import OsloServer, private_conf
from interop_endpoints import AllowedError, Endpoint
from oslo_messaging._drivers import impl_rabbit

pytestmark = [pytest.mark.rabbit, pytest.mark.interop]


@pytest.fixture
def quick_oslo_transport(rabbit_url: str) -> Iterator[Any]:
    """An oslo.messaging transport that retries a returned reply for 1 s, not 60."""
    conf = private_conf()
    conf.register_opts(impl_rabbit.rabbit_opts, group="oslo_messaging_rabbit")
    conf.set_override("kombu_missing_consumer_retry_timeout", 1, group="oslo_messaging_rabbit")
    transport = oslo_messaging.get_rpc_transport(
        conf, url=rabbit_url, allowed_remote_exmods=["interop_endpoints"]
    )
    yield transport
    transport.cleanup()


@pytest.mark.parametrize("direct", [False, True], ids=["reply-queue", "direct-reply-to"])
async def test_an_oslo_server_answers_an_aionova_caller(
    rabbit_url: str, quick_oslo_transport: Any, topic: str, direct: bool
) -> None:
    url = rabbit_url + ("?direct_reply_to=true" if direct else "")
    oslo_target = oslo_messaging.Target(topic=topic, server="o1")
    endpoint = Endpoint("o1")
    async with (
        OsloServer(quick_oslo_transport, oslo_target, [endpoint]),
        get_rpc_transport(url, allowed_remote_exmods=["interop_endpoints"]) as transport,
    ):
        client = RPCClient(transport, Target(topic=topic), timeout=15)
        async with asyncio.timeout(60):
            assert await client.call({}, "echo", value=[None, 0, "é"]) == [None, 0, "é"]
            assert await client.prepare(server="o1").call({}, "whoami") == "o1"
            answers = await asyncio.gather(*(client.call({}, "echo", value=n) for n in range(8)))
            assert answers == list(range(8))
            with pytest.raises(AllowedError) as info:
                await client.call({}, "fail_allowed")
            assert info.value.code == 7
        address = transport._replies.known_address
        assert address is not None
        prefix = "amq.rabbitmq.reply-to." if direct else "reply_"
        assert address.startswith(prefix)
