"""Typed settings: msgspec Structs loaded from TOML, then ``AIONOVA_<SECTION>__<KEY>`` env vars."""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec


class DefaultOpts(msgspec.Struct, kw_only=True):
    """The [DEFAULT] group."""

    host: str = msgspec.field(default_factory=socket.gethostname)
    transport_url: str = "memory://aionova"
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
    """The [database] group: the SQLite file shared by api, conductor and scheduler."""

    connection: str = "aionova.sqlite"


class ApiOpts(msgspec.Struct, kw_only=True):
    """The [api] group: the REST listener and its identity defaults (no Keystone)."""

    listen: str = "127.0.0.1"
    port: int = 8774
    public_url: str | None = None
    default_project: str = "admin"
    default_user: str = "admin"
    max_body_bytes: int = 1_048_576


class Config(msgspec.Struct, kw_only=True):
    """All settings."""

    DEFAULT: DefaultOpts = msgspec.field(default_factory=DefaultOpts)
    scheduler: SchedulerOpts = msgspec.field(default_factory=SchedulerOpts)
    conductor: ConductorOpts = msgspec.field(default_factory=ConductorOpts)
    upgrade_levels: UpgradeLevels = msgspec.field(default_factory=UpgradeLevels)
    database: DatabaseOpts = msgspec.field(default_factory=DatabaseOpts)
    api: ApiOpts = msgspec.field(default_factory=ApiOpts)

    def effective_service_down_time(self) -> float:
        """service_down_time, raised to 2.5 x report_interval when not above it (Nova's rule)."""
        d = self.DEFAULT
        if d.service_down_time <= d.report_interval:
            return d.report_interval * 2.5
        return d.service_down_time

    def with_default(self, **values: Any) -> Config:
        """A copy with some [DEFAULT] options replaced."""
        return msgspec.structs.replace(
            self, DEFAULT=msgspec.structs.replace(self.DEFAULT, **values)
        )


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read a TOML file (optional) and apply environment overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        data = tomllib.loads(Path(path).read_text())
    env = os.environ if env is None else env
    for key, value in env.items():
        if not key.startswith("AIONOVA_") or "__" not in key:
            continue
        section, _, option = key[len("AIONOVA_") :].partition("__")
        section = "DEFAULT" if section.upper() == "DEFAULT" else section.lower()
        data.setdefault(section, {})[option.lower()] = value
    return msgspec.convert(data, Config, strict=False)
