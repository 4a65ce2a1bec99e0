"""Fixtures running real oslo.messaging (threads) against the same RabbitMQ."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import oslo_messaging
import pytest
from oslo_config import cfg
from oslo_messaging._metrics import client as oslo_metrics
from oslo_messaging._tracing import client as oslo_tracing
from oslo_messaging.rpc import dispatcher as oslo_dispatcher

DEFAULT_URL = "rabbit://guest:guest@127.0.0.1:5672/"


@pytest.fixture
def topic() -> str:
    return f"interop_{uuid.uuid4().hex[:12]}"


def private_conf() -> cfg.ConfigOpts:
    """A ConfigOpts of our own, not the global CONF.

    oslo.messaging 18.3.1 registers its tracing, metrics and dispatcher options
    only on the global ``cfg.CONF`` but reads them from the transport's conf,
    so register them here too (as its own ConfFixture does).
    """
    conf = cfg.ConfigOpts()
    conf.register_opts(oslo_tracing.oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(oslo_metrics.oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf.register_opts(oslo_dispatcher._dispatcher_opts)
    conf([], project="aionova-interop")
    return conf


@pytest.fixture
def oslo_transport(rabbit_url: str) -> Iterator[Any]:
    """An oslo.messaging RPC transport; allowed to rebuild this directory's exceptions."""
    transport = oslo_messaging.get_rpc_transport(
        private_conf(), url=rabbit_url, allowed_remote_exmods=["interop_endpoints"]
    )
    yield transport
    transport.cleanup()


class OsloServer:
    """An oslo.messaging RPCServer (threading executor) started and stopped from asyncio."""

    def __init__(self, transport: Any, target: Any, endpoints: list[Any]) -> None:
        # No eventlet here, so oslo.messaging picks its threading executor by itself.
        self.server = oslo_messaging.get_rpc_server(transport, target, endpoints)

    async def __aenter__(self) -> OsloServer:
        await asyncio.to_thread(self.server.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self.server.stop()
        self.server.wait()


@pytest.fixture
async def oslo_server_factory(oslo_transport: Any) -> AsyncIterator[Any]:
    def make(topic: str, server: str, endpoints: list[Any]) -> OsloServer:
        return OsloServer(
            oslo_transport, oslo_messaging.Target(topic=topic, server=server), endpoints
        )

    yield make
