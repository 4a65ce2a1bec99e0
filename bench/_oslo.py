"""oslo.messaging peers: blocking clients driven from threads, threading-executor servers.

``fake://`` runs client and server in this process; ``rabbit://`` runs the
server in its own process (``bench._worker server --peer oslo.messaging``).
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any

with warnings.catch_warnings():  # oslo imports eventlet, which warns that it is deprecated
    warnings.simplefilter("ignore")
    import oslo_messaging
    from oslo_config import cfg
    from oslo_messaging._metrics import client as oslo_metrics
    from oslo_messaging._tracing import client as oslo_tracing
    from oslo_messaging.rpc import dispatcher as oslo_dispatcher

from bench._stats import CONTEXT, ThreadTally

TOPIC = "bench_rpc_oslo"


def _conf() -> cfg.ConfigOpts:
    """A private ConfigOpts with the option groups oslo.messaging 18 reads but only
    registers on the global CONF."""
    conf = cfg.ConfigOpts()
    conf.register_opts(oslo_tracing.oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(oslo_metrics.oslo_messaging_metrics, group="oslo_messaging_metrics")
    conf.register_opts(oslo_dispatcher._dispatcher_opts)
    conf([], project="aionova-bench")
    logging.getLogger("oslo_messaging").setLevel(logging.ERROR)
    return conf


class OsloEndpoint:
    """The benchmark endpoint, blocking flavour (the threading executor calls it)."""

    def __init__(self, tally: ThreadTally) -> None:
        self.tally = tally

    def echo(self, ctxt: dict[str, Any], data: Any) -> Any:
        return data

    def count(self, ctxt: dict[str, Any], data: Any) -> None:
        self.tally.hit()

    def stats(self, ctxt: dict[str, Any]) -> list[float]:
        return self.tally.snapshot()


def _server(transport: Any, tally: ThreadTally) -> Any:
    target = oslo_messaging.Target(topic=TOPIC, server="s1")
    return oslo_messaging.get_rpc_server(
        transport, target, [OsloEndpoint(tally)], executor="threading"
    )


class OsloPeer:
    """An oslo.messaging RPCClient; on ``fake://`` it also runs the server here."""

    name = "oslo.messaging"

    def __init__(self, url: str) -> None:
        self._transport = oslo_messaging.get_rpc_transport(_conf(), url=url)
        self._client = oslo_messaging.get_rpc_client(
            self._transport, oslo_messaging.Target(topic=TOPIC), timeout=60
        )
        self.tally: ThreadTally | None = None
        self._server = None
        if url.startswith("fake://"):
            self.tally = ThreadTally()
            self._server = _server(self._transport, self.tally)
            self._server.start()

    def call(self, data: str) -> Any:
        return self._client.call(CONTEXT, "echo", data=data)

    def cast(self, data: str) -> None:
        self._client.cast(CONTEXT, "count", data=data)

    def stats(self) -> list[float]:
        if self.tally is not None:
            return self.tally.snapshot()
        result: list[float] = self._client.call(CONTEXT, "stats")
        return result

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.wait()
        self._transport.cleanup()


def serve_oslo(url: str, ready: Any, stop: threading.Event) -> None:
    """Serve the benchmark endpoint with oslo.messaging until ``stop`` is set."""
    transport = oslo_messaging.get_rpc_transport(_conf(), url=url)
    server = _server(transport, ThreadTally())
    server.start()
    ready()
    stop.wait()
    server.stop()
    server.wait()
    transport.cleanup()
