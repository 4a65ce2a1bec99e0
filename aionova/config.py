"""Typed settings: msgspec Structs loaded from TOML, then ``AIONOVA_<SECTION>__<KEY>`` env vars."""

from __future__ import annotations

import os
import socket
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from aionova.notifications.settings import (
    NOVA_CONTROL_EXCHANGE,
    NotificationsOpts,
    OsloMessagingNotificationsOpts,
    with_control_exchange,
)

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(ge=0)]
#: Transport URL schemes of the RabbitMQ driver: the ones [oslo_messaging_rabbit] applies to.
RABBIT_SCHEMES = frozenset({"rabbit", "amqp", "amqps", "kombu"})


class DefaultOpts(msgspec.Struct, kw_only=True):
    """The [DEFAULT] group.

    ``control_exchange`` is oslo.messaging's option with Nova's default: the exchange of
    the control plane's RPC and notifications (a ``control_exchange`` in the transport
    URL wins).
    """

    host: str = msgspec.field(default_factory=socket.gethostname)
    transport_url: str = "memory://aionova"
    control_exchange: str = NOVA_CONTROL_EXCHANGE
    report_interval: float = 10.0
    service_down_time: float = 60.0
    initial_report_delay: float = 5.0
    periodic_fuzzy_delay: float = 60.0
    rpc_response_timeout: float = 60.0
    long_rpc_timeout: float = 1800.0
    max_concurrent_builds: int = 10
    update_resources_interval: float = 60.0
    instance_build_timeout: float = 0.0
    reserved_host_memory_mb: int = 512
    reserved_host_disk_mb: int = 0
    reserved_host_cpus: int = 0
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    rpc_max_concurrency: int = 64
    resume_guests_state_on_host_boot: bool = False


class SchedulerOpts(msgspec.Struct, kw_only=True):
    """The [scheduler] group (Newton names, current defaults)."""

    max_attempts: int = 3
    host_subset_size: int = 1
    enabled_filters: list[str] = msgspec.field(
        default_factory=lambda: [
            "RetryFilter",
            "ComputeFilter",
            "RamFilter",
            "DiskFilter",
            "CoreFilter",
            "ImagePropertiesFilter",
        ]
    )
    ram_weight_multiplier: float = 1.0


class ConductorOpts(msgspec.Struct, kw_only=True):
    """The [conductor] group: recovery of work nobody owns any more.

    ``build_recovery_timeout``: seconds a build may stay accepted without reaching a
    host (BUILD, no host), or an instance in a task state the API sets before it casts
    (rebuilding, rebooting, powering-off/on; deleting without a host), before the
    conductor drives it again or puts it in ERROR with a fault; 0 disables recovery.
    ``recovery_interval``: seconds between the conductor's looks (it also looks when it
    starts).
    """

    build_recovery_timeout: float = 300.0
    recovery_interval: float = 60.0


class UpgradeLevels(msgspec.Struct, kw_only=True):
    """The [upgrade_levels] group: per-service RPC version caps ("auto", "4.0", None)."""

    compute: str | None = None
    baseapi: str | None = None


class DatabaseOpts(msgspec.Struct, kw_only=True):
    """The [database] group (oslo.db's names): the database of api, conductor, scheduler.

    ``connection``: ``sqlite:///PATH`` (or a bare path; the embedded default) or
    ``postgresql://user:pw@host:port/db``. ``max_pool_size``: connections per process
    (PostgreSQL). ``max_retries`` / ``retry_interval``: connecting at startup (-1:
    forever). ``db_max_retries`` / ``db_retry_interval`` / ``db_max_retry_interval``:
    how the conductor and scheduler re-run a call after a lost connection or a
    conflict (the interval doubles up to the maximum); the API never waits: it
    answers 503.
    """

    connection: str = "aionova.sqlite"
    max_pool_size: int = 10
    max_retries: int = 10
    retry_interval: float = 1.0
    db_max_retries: int = 20
    db_retry_interval: float = 0.25
    db_max_retry_interval: float = 5.0


class ApiOpts(msgspec.Struct, kw_only=True):
    """The [api] group: the REST listener, how callers are identified, input bounds.

    ``auth_strategy`` is Nova's option: ``keystone`` validates every token against
    Keystone (settings in [keystone_authtoken]); ``noauth2`` trusts a ``user:project``
    token and is only for the all-in-one and development: the API refuses it on a
    non-loopback ``listen`` address unless ``noauth_allow_public`` is set.
    """

    listen: str = "127.0.0.1"
    port: int = 8774
    public_url: str | None = None
    auth_strategy: Literal["keystone", "noauth2"] = "noauth2"
    noauth_allow_public: bool = False
    default_project: str = "admin"
    default_user: str = "admin"
    max_body_bytes: int = 1_048_576


class KeystoneAuthtokenOpts(msgspec.Struct, kw_only=True):
    """The [keystone_authtoken] group, with keystonemiddleware's option names.

    ``auth_url`` (where the service user authenticates and tokens are validated) and
    ``www_authenticate_uri`` (what a 401 tells clients) may be versionless or end in
    ``/v3``. ``http_connect_timeout`` bounds each whole call to Keystone (connect and
    read); unlike keystonemiddleware it has a default, so a silent Keystone cannot hold
    a request.
    """

    www_authenticate_uri: str | None = None
    auth_url: str | None = None
    auth_type: str = "password"
    username: str | None = None
    password: str | None = None
    project_name: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    token_cache_time: int = 300
    http_connect_timeout: float = 10.0
    include_service_catalog: bool = True


class OsloPolicyOpts(msgspec.Struct, kw_only=True):
    """The [oslo_policy] group: a YAML or JSON file of rule overrides, read at startup
    (none by default: Nova's defaults apply)."""

    policy_file: str | None = None


class OsloMessagingRabbitOpts(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The [oslo_messaging_rabbit] group: the RabbitMQ driver's options, oslo.messaging's
    names and defaults, plus ours (``at_least_once``: durable topic queues and
    acknowledgements after processing, so a crashed consumer's work is redelivered).

    They reach the driver as query parameters of the transport URL (``transport_url()``),
    where the same names work too: a parameter the URL has wins over the group. An
    unknown option here is a configuration error (a typo would otherwise be ignored).
    """

    amqp_durable_queues: bool = False
    amqp_auto_delete: bool = False
    rabbit_quorum_queue: bool = False
    rabbit_transient_quorum_queue: bool = False
    rabbit_quorum_delivery_limit: NonNegative = 0
    rabbit_quorum_max_memory_length: NonNegative = 0
    rabbit_quorum_max_memory_bytes: NonNegative = 0
    rabbit_ha_queues: bool = False
    rabbit_transient_queues_ttl: NonNegative = 1800
    rabbit_qos_prefetch_count: NonNegative = 0
    heartbeat_timeout_threshold: NonNegative = 60
    kombu_failover_strategy: Literal["round-robin", "shuffle"] = "round-robin"
    kombu_missing_consumer_retry_timeout: Seconds = 60
    rabbit_retry_interval: Seconds = 1.0
    rabbit_retry_backoff: Seconds = 2.0
    rabbit_interval_max: Seconds = 30.0
    ssl: bool = False
    ssl_ca_file: str | None = None
    ssl_cert_file: str | None = None
    ssl_key_file: str | None = None
    at_least_once: bool = False

    def query(self) -> list[tuple[str, str]]:
        """The options that differ from their defaults, as URL query parameters."""
        default = OsloMessagingRabbitOpts()
        items = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value != getattr(default, name):
                items.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
        return items


class Config(msgspec.Struct, kw_only=True):
    """All settings."""

    DEFAULT: DefaultOpts = msgspec.field(default_factory=DefaultOpts)
    scheduler: SchedulerOpts = msgspec.field(default_factory=SchedulerOpts)
    conductor: ConductorOpts = msgspec.field(default_factory=ConductorOpts)
    upgrade_levels: UpgradeLevels = msgspec.field(default_factory=UpgradeLevels)
    database: DatabaseOpts = msgspec.field(default_factory=DatabaseOpts)
    api: ApiOpts = msgspec.field(default_factory=ApiOpts)
    keystone_authtoken: KeystoneAuthtokenOpts = msgspec.field(default_factory=KeystoneAuthtokenOpts)
    oslo_policy: OsloPolicyOpts = msgspec.field(default_factory=OsloPolicyOpts)
    notifications: NotificationsOpts = msgspec.field(default_factory=NotificationsOpts)
    oslo_messaging_notifications: OsloMessagingNotificationsOpts = msgspec.field(
        default_factory=OsloMessagingNotificationsOpts
    )
    oslo_messaging_rabbit: OsloMessagingRabbitOpts = msgspec.field(
        default_factory=OsloMessagingRabbitOpts
    )

    def effective_service_down_time(self) -> float:
        """service_down_time, raised to 2.5 x report_interval when not above it (Nova's rule)."""
        d = self.DEFAULT
        if d.service_down_time <= d.report_interval:
            return d.report_interval * 2.5
        return d.service_down_time

    def rpc_transport_url(self) -> str:
        """The services' transport URL: ``[DEFAULT] transport_url`` with the
        ``[oslo_messaging_rabbit]`` options (``transport_url``), on ``control_exchange``
        (unless the URL names one)."""
        return with_control_exchange(transport_url(self), self.DEFAULT.control_exchange)

    def with_default(self, **values: Any) -> Config:
        """A copy with some [DEFAULT] options replaced."""
        return msgspec.structs.replace(
            self, DEFAULT=msgspec.structs.replace(self.DEFAULT, **values)
        )


def transport_url(cfg: Config) -> str:
    """The RPC transport URL the services use: ``[DEFAULT] transport_url`` with the
    ``[oslo_messaging_rabbit]`` options as query parameters. They go before the URL's
    own parameters, and the driver takes the last value of an option (by either of
    its names), so the URL wins. Other schemes (``memory://``) are returned as they are.
    """
    url = cfg.DEFAULT.transport_url
    parts = urlsplit(url)
    if parts.scheme.lower() not in RABBIT_SCHEMES:
        return url
    ours = cfg.oslo_messaging_rabbit.query()
    if not ours:
        return url
    theirs = parse_qsl(parts.query, keep_blank_values=True)
    return urlunsplit(parts._replace(query=urlencode([*ours, *theirs])))


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read a TOML file (optional) and apply environment overrides.

    An environment value for a list option is a comma-separated list (empty: ``[]``),
    e.g. ``AIONOVA_OSLO_MESSAGING_NOTIFICATIONS__DRIVER=`` turns notifications off.
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = tomllib.loads(Path(path).read_text())
    env = os.environ if env is None else env
    for key, value in env.items():
        if not key.startswith("AIONOVA_") or "__" not in key:
            continue
        section, _, option = key[len("AIONOVA_") :].partition("__")
        section = "DEFAULT" if section.upper() == "DEFAULT" else section.lower()
        option = option.lower()
        data.setdefault(section, {})[option] = _env_value(section, option, value)
    return msgspec.convert(data, Config, strict=False)


def _env_value(section: str, option: str, value: str) -> Any:
    """``value`` as the option wants it: lists split on commas, the rest as given."""
    groups = {f.name: f.type for f in msgspec.structs.fields(Config)}
    group = groups.get(section)
    if not (isinstance(group, type) and issubclass(group, msgspec.Struct)):
        return value
    types = {f.name: f.type for f in msgspec.structs.fields(group)}
    if typing.get_origin(types.get(option)) is list:
        return [item.strip() for item in value.split(",") if item.strip()]
    return value
