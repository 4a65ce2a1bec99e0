"""Instance and what describes it: flavor, image, faults, actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import msgspec

from aionova.context import RequestContext
from aionova.objects.base import NovaObject
from aionova.states import power_state, vm_states

ExpectedState = str | None | Sequence[str | None]
Ctx = RequestContext | None


class InstanceStore(Protocol):
    """What an Instance's own methods need of its store (part of ``ObjectStore``)."""

    async def instance_get(self, ctxt: Ctx, uuid: str, *, read_deleted: bool = False) -> Instance:
        """One instance or ``InstanceNotFound``."""
        ...

    async def instance_update(
        self,
        ctxt: Ctx,
        uuid: str,
        updates: dict[str, Any],
        expected_task_state: Sequence[str | None] | None = None,
        expected_vm_state: Sequence[str | None] | None = None,
    ) -> Instance:
        """Compare-and-swap write: ``UnexpectedTaskStateError`` (…Deleting… while being
        deleted) or ``InstanceUpdateConflict`` on a mismatch, ``InstanceNotFound``."""
        ...

    async def instance_destroy(self, ctxt: Ctx, uuid: str) -> Instance:
        """Soft-delete (vm DELETED, task None); ``InstanceNotFound`` if already gone."""
        ...


class Flavor(NovaObject[object], kw_only=True):
    """Sizes an instance asks for."""

    # 1.2: description (microversion 2.55)
    VERSION: ClassVar[str] = "1.2"
    id: int | None = None
    flavorid: str
    name: str
    memory_mb: int
    vcpus: int
    root_gb: int = 0
    ephemeral_gb: int = 0
    swap: int = 0
    description: str | None = None


class ImageMeta(NovaObject[object], kw_only=True):
    """The part of an image the control plane looks at."""

    VERSION: ClassVar[str] = "1.0"
    id: str
    name: str = ""
    status: str = "active"
    min_ram: int = 0
    min_disk: int = 0
    size: int = 0
    properties: dict[str, Any] = {}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Instance(NovaObject[InstanceStore], kw_only=True):
    """A server. Saves are compare-and-swap on task_state / vm_state."""

    VERSION: ClassVar[str] = "2.1"
    uuid: str
    display_name: str = ""
    project_id: str | None = None
    user_id: str | None = None
    image_ref: str | None = None
    flavor: Flavor | None = None
    memory_mb: int = 0
    vcpus: int = 0
    root_gb: int = 0
    ephemeral_gb: int = 0
    vm_state: str = vm_states.BUILDING
    task_state: str | None = None
    power_state: int = power_state.NOSTATE
    host: str | None = None
    node: str | None = None
    launched_on: str | None = None
    availability_zone: str | None = None
    reservation_id: str | None = None
    locked: bool = False
    progress: int = 0
    metadata: dict[str, str] = {}
    system_metadata: dict[str, str] = {}
    launched_at: dt.datetime | None = None
    terminated_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    deleted: bool = False

    async def save(
        self,
        expected_task_state: ExpectedState = None,
        expected_vm_state: ExpectedState = None,
    ) -> None:
        """Write the changed fields.

        ``expected_*`` None means no check (Nova's bare-None rule); pass ``[None]``
        to require "currently NULL". A mismatch raises ``UnexpectedTaskStateError``
        (``UnexpectedDeletingTaskStateError`` when the instance is being deleted).
        """
        changes = self.obj_what_changed()
        if not changes and expected_task_state is None and expected_vm_state is None:
            return
        fresh = await self.store.instance_update(
            self.context,
            self.uuid,
            changes,
            expected_task_state=_as_list(expected_task_state),
            expected_vm_state=_as_list(expected_vm_state),
        )
        self.obj_refresh_from(fresh)

    async def refresh(self) -> None:
        """Reload every field from the store."""
        self.obj_refresh_from(await self.store.instance_get(self.context, self.uuid))

    async def destroy(self) -> None:
        """Soft-delete the row (``InstanceNotFound`` if already gone)."""
        self.obj_refresh_from(await self.store.instance_destroy(self.context, self.uuid))


def _as_list(value: ExpectedState) -> list[str | None] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


class InstanceFault(NovaObject[object], kw_only=True):
    """A recorded failure shown as ``server.fault``."""

    VERSION: ClassVar[str] = "1.0"
    instance_uuid: str
    code: int = 500
    message: str = ""
    details: str = ""
    host: str | None = None
    created_at: dt.datetime | None = None


class InstanceActionEvent(NovaObject[object], kw_only=True):
    """One step of an action (e.g. ``compute__do_build_and_run_instance``)."""

    VERSION: ClassVar[str] = "1.0"
    event: str
    result: str | None = None
    host: str | None = None
    traceback: str | None = None
    start_time: dt.datetime | None = None
    finish_time: dt.datetime | None = None


class InstanceAction(NovaObject[object], kw_only=True):
    """A user-visible operation on an instance (``create``, ``reboot`` …)."""

    VERSION: ClassVar[str] = "1.0"
    id: int | None = None
    instance_uuid: str
    action: str
    request_id: str
    user_id: str | None = None
    project_id: str | None = None
    message: str | None = None
    start_time: dt.datetime | None = None
    events: list[InstanceActionEvent] = msgspec.field(default_factory=list)
