"""What the scheduler is asked for, and migration records."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Protocol

import msgspec

from aionova.context import RequestContext
from aionova.objects.base import NovaObject
from aionova.objects.instance import Flavor, ImageMeta

Ctx = RequestContext | None


class MigrationStore(Protocol):
    """What a Migration's own methods need of its store (part of ``ObjectStore``)."""

    async def migration_update(
        self, ctxt: Ctx, migration_id: int, updates: dict[str, Any]
    ) -> Migration:
        """Write fields (``NotFound`` if the row is gone)."""
        ...


class SchedulerRetries(NovaObject[object], kw_only=True):
    """Attempts so far and the [host, node] pairs already tried."""

    VERSION: ClassVar[str] = "1.0"
    num_attempts: int = 0
    hosts: list[list[str]] = msgspec.field(default_factory=list)


class Destination(NovaObject[object], kw_only=True):
    """A requested host (and node) the scheduler must still validate."""

    VERSION: ClassVar[str] = "1.0"
    host: str
    node: str | None = None


class RequestSpec(NovaObject[object], kw_only=True):
    """The scheduling request of one boot (possibly several instances)."""

    VERSION: ClassVar[str] = "1.1"
    instance_uuid: str
    project_id: str | None = None
    flavor: Flavor
    image: ImageMeta | None = None
    num_instances: int = 1
    availability_zone: str | None = None
    ignore_hosts: list[str] | None = None
    force_hosts: list[str] | None = None
    force_nodes: list[str] | None = None
    requested_destination: Destination | None = None
    retry: SchedulerRetries | None = None
    scheduler_hints: dict[str, Any] = {}

    def reset_forced_destinations(self) -> None:
        """Forget boot-time forced hosts (used by evacuate)."""
        self.force_hosts = None
        self.force_nodes = None


class Migration(NovaObject[MigrationStore], kw_only=True):
    """A move of an instance (evacuation in this project)."""

    VERSION: ClassVar[str] = "1.0"
    id: int | None = None
    uuid: str
    instance_uuid: str
    source_compute: str | None = None
    source_node: str | None = None
    dest_compute: str | None = None
    dest_node: str | None = None
    dest_host: str | None = None
    status: str = "accepted"
    migration_type: str = "evacuation"
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    async def save(self) -> None:
        """Write changed fields (through the conductor on a compute)."""
        changes = self.obj_what_changed()
        if changes and self.id is not None:
            self.obj_refresh_from(await self.store.migration_update(self.context, self.id, changes))
