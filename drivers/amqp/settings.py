"""The driver's options: one frozen value parsed from the transport URL.

``rabbit://user:pass@h1:5672,user:pass@h2:5672/vhost?heartbeat=30&prefetch=10``
gives two hosts tried in turn (failover, ``kombu_failover_strategy``), the
virtual host ``vhost`` and the query options below (``direct_reply_to=true``:
callers get their replies through RabbitMQ's direct reply-to, see ``direct.py``;
the default is oslo.messaging's ``reply_<uuid>`` queue). oslo.messaging's option
names are accepted as aliases (``amqp_durable_queues``, ``rabbit_quorum_queue``,
``rabbit_qos_prefetch_count`` …) so one URL can serve both frameworks.
``amqps://`` or ``?ssl=1`` turns TLS on. Values that cannot work together
(quorum and mirrored queues, an unknown failover strategy, a negative limit)
raise ``ValueError`` when the settings are made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from ssl import CERT_NONE, SSLContext, create_default_context
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

LOG = logging.getLogger(__name__)

DEFAULT_PORT = 5672
DEFAULT_TLS_PORT = 5671
SCHEMES = frozenset({"rabbit", "amqp", "kombu", "amqps"})
#: ``kombu_failover_strategy``: the URL's hosts in their order, or a fresh random
#: order for every round of attempts.
FAILOVER_STRATEGIES = ("round-robin", "shuffle")


@dataclass(frozen=True, slots=True)
class Host:
    """One broker address with its credentials."""

    host: str = "localhost"
    port: int = DEFAULT_PORT
    username: str = "guest"
    password: str = field(default="guest", repr=False)


@dataclass(frozen=True, slots=True)
class AmqpSettings:
    """Everything the driver can be told; defaults follow oslo.messaging."""

    hosts: tuple[Host, ...] = (Host(),)
    virtual_host: str = "/"
    control_exchange: str = "openstack"
    durable_queues: bool = False
    auto_delete: bool = False
    quorum_queues: bool = False
    transient_quorum_queues: bool = False
    quorum_delivery_limit: int = 0
    quorum_max_memory_length: int = 0
    quorum_max_memory_bytes: int = 0
    ha_queues: bool = False
    transient_queues_ttl: int = 1800
    failover_strategy: str = "round-robin"
    prefetch: int = 0
    heartbeat: int = 60
    retry_interval: float = 1.0
    retry_backoff: float = 2.0
    interval_max: float = 30.0
    connect_timeout: float = 10.0
    missing_consumer_retry_timeout: float = 60.0
    at_least_once: bool = False
    direct_reply_to: bool = False  # replies through amq.rabbitmq.reply-to, not reply_<uuid>
    max_message_size: int = 16 * 1024 * 1024
    ssl: bool = False
    ssl_ca_file: str | None = None
    ssl_cert_file: str | None = None
    ssl_key_file: str | None = None
    ssl_verify: bool = True

    def __post_init__(self) -> None:
        if self.ha_queues and (self.quorum_queues or self.transient_quorum_queues):
            raise ValueError(
                "rabbit_ha_queues is set with rabbit_quorum_queue or "
                "rabbit_transient_quorum_queue: a queue is either quorum or mirrored (HA)"
            )
        if self.failover_strategy not in FAILOVER_STRATEGIES:
            raise ValueError(
                f"kombu_failover_strategy {self.failover_strategy!r} is not one of "
                f"{', '.join(FAILOVER_STRATEGIES)}"
            )
        for name in _NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise ValueError(f"option {name!r} must be 0 or more, not {getattr(self, name)}")
        if not self.hosts:
            raise ValueError("a transport URL needs at least one host")

    @property
    def durable(self) -> bool:
        """Whether the topic exchange and the topic/server queues are durable."""
        return self.durable_queues or self.quorum_queues or self.at_least_once

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (1-based): 1, 3, 5 … ≤ 30."""
        delay = self.retry_interval + self.retry_backoff * max(attempt - 1, 0)
        return min(delay, self.interval_max)

    def ssl_context(self) -> SSLContext | None:
        """A client TLS context built from the ``ssl_*`` options, or None without TLS."""
        if not self.ssl:
            return None
        context = create_default_context(cafile=self.ssl_ca_file)
        if not self.ssl_verify:
            context.check_hostname = False
            context.verify_mode = CERT_NONE
        if self.ssl_cert_file:
            context.load_cert_chain(self.ssl_cert_file, self.ssl_key_file)
        return context


_ALIASES = {
    "amqp_durable_queues": "durable_queues",
    "amqp_auto_delete": "auto_delete",
    "rabbit_quorum_queue": "quorum_queues",
    "rabbit_transient_quorum_queue": "transient_quorum_queues",
    "rabbit_quorum_delivery_limit": "quorum_delivery_limit",
    "rabbit_quorum_max_memory_length": "quorum_max_memory_length",
    "rabbit_quorum_max_memory_bytes": "quorum_max_memory_bytes",
    "rabbit_ha_queues": "ha_queues",
    "rabbit_transient_queues_ttl": "transient_queues_ttl",
    "kombu_failover_strategy": "failover_strategy",
    "rabbit_qos_prefetch_count": "prefetch",
    "heartbeat_timeout_threshold": "heartbeat",
    "rabbit_retry_interval": "retry_interval",
    "rabbit_retry_backoff": "retry_backoff",
    "rabbit_interval_max": "interval_max",
    "kombu_missing_consumer_retry_timeout": "missing_consumer_retry_timeout",
    "ssl_ca_certs": "ssl_ca_file",
    "ssl_certfile": "ssl_cert_file",
    "ssl_keyfile": "ssl_key_file",
}
_NON_NEGATIVE = (
    "quorum_delivery_limit",
    "quorum_max_memory_length",
    "quorum_max_memory_bytes",
    "transient_queues_ttl",
    "prefetch",
    "heartbeat",
)
_OPTIONS = {f.name: f for f in fields(AmqpSettings) if f.name not in ("hosts", "virtual_host")}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", "none", ""})


def _convert(name: str, kind: str, raw: str) -> Any:
    if kind == "bool":
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"option {name!r}: {raw!r} is not a boolean")
    if kind in ("int", "float"):
        try:
            return int(raw) if kind == "int" else float(raw)
        except ValueError:
            raise ValueError(f"option {name!r}: {raw!r} is not a number ({kind})") from None
    if "None" in kind:
        return raw or None
    return raw


def _parse_host(netloc: str, default_port: int) -> Host:
    userinfo, _, hostport = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        raise ValueError(f"transport URL host {hostport!r}: port {port!r} is not a number")
    return Host(
        host=host or "localhost",
        port=int(port) if port else default_port,
        username=unquote(username) if username else "guest",
        password=unquote(password) if userinfo else "guest",
    )


def parse_url(url: str) -> AmqpSettings:
    """Parse a ``rabbit://`` (or ``amqp://``/``amqps://``) URL into settings.

    Raises ValueError for an unknown scheme or a malformed option value;
    unknown options are logged and ignored (oslo.messaging has many we do not use).
    An option given twice takes its last value, whichever of its names each uses
    (so parameters appended to a URL override the ones before them).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(f"not an AMQP URL: {url!r}")
    options: dict[str, Any] = {}
    for key, raw in parse_qsl(parts.query, keep_blank_values=True):
        name = _ALIASES.get(key, key)
        option = _OPTIONS.get(name)
        if option is None:
            LOG.warning("ignoring unknown AMQP transport option %r", key)
            continue
        options[name] = _convert(key, str(option.type), raw)
    if scheme == "amqps":
        options.setdefault("ssl", True)
    default_port = DEFAULT_TLS_PORT if options.get("ssl") else DEFAULT_PORT
    netlocs = [n for n in parts.netloc.split(",") if n]
    hosts = tuple(_parse_host(n, default_port) for n in netlocs) or (Host(port=default_port),)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return AmqpSettings(hosts=hosts, virtual_host=vhost, **options)
