"""Database: the ``ObjectStore`` on an engine, for the API, conductor and scheduler.

Each method runs the query of its entity module (instances, requests, actions, hosts,
catalog, migrations, recovery) and binds the objects it returns to this store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aionova import exception
from aionova.config import DatabaseOpts
from aionova.context import RequestContext
from aionova.db import (
    actions,
    allocations,
    catalog,
    hosts,
    instances,
    migrations,
    recovery,
    requests,
)
from aionova.db.connection import engine_for
from aionova.db.engine import Engine
from aionova.db.errors import DBConnectionError
from aionova.db.retrying import Retrying, RetryPolicy
from aionova.objects import (
    ComputeNode,
    Flavor,
    ImageMeta,
    Instance,
    InstanceAction,
    InstanceFault,
    Migration,
    NovaObject,
    RequestSpec,
    Service,
)
from aionova.objects.store import Ctx
from aionova.states import task_states

LOG = logging.getLogger(__name__)
Obj = TypeVar("Obj", bound=NovaObject[Any])


class InstanceUpdateHook(Protocol):
    """Told of each instance save: the row as saved, and as it was just before."""

    def __call__(self, ctxt: Ctx, instance: Instance, before: Instance) -> None: ...


class Database:
    """Shared by api, conductor and scheduler; objects it returns are bound to it.

    ``connection`` is a URL or path (see ``engine_for``) or an engine; ``opts`` the
    ``[database]`` settings (pool size, retries). ``retrying()`` gives the services'
    view of the same database: calls re-run over a lost connection (retrying.py).

    ``on_instance_update`` (None unless set) is called after each ``instance_update``
    with the row read just before it: where Nova's ``Instance.save`` sends
    ``instance.update`` (set when ``[notifications] notify_on_state_change`` is; it
    costs a read per save, so it is left unset otherwise).
    """

    def __init__(self, connection: str | Path | Engine, opts: DatabaseOpts | None = None) -> None:
        self.opts = opts or DatabaseOpts()
        self.engine: Engine = (
            engine_for(connection, self.opts) if isinstance(connection, (str, Path)) else connection
        )
        self.on_instance_update: InstanceUpdateHook | None = None

    def retrying(self, policy: RetryPolicy | None = None) -> Database:
        """This database for a service: retryable failures re-run (same engine; open and
        close stay with this object)."""
        o = self.opts
        policy = policy or RetryPolicy(
            o.db_max_retries, o.db_retry_interval, o.db_max_retry_interval
        )
        return Database(Retrying(self.engine, policy), self.opts)

    async def open(self) -> Database:
        """Connect (retrying ``max_retries`` times, oslo.db's startup rule) and migrate."""
        attempt = 0
        while True:
            try:
                await self.engine.open()
                return self
            except DBConnectionError as exc:
                attempt += 1
                if 0 <= self.opts.max_retries < attempt:
                    raise
                LOG.warning("cannot reach the database (attempt %d): %s", attempt, exc)
                await asyncio.sleep(self.opts.retry_interval)

    async def close(self) -> None:
        await self.engine.close()

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _bound(self, ctxt: Ctx, obj: Obj) -> Obj:
        return obj.bind(ctxt, self)

    def _all(self, ctxt: Ctx, objs: list[Obj]) -> list[Obj]:
        return [obj.bind(ctxt, self) for obj in objs]

    # -- instances ----------------------------------------------------------------------
    async def instance_create(
        self,
        ctxt: Ctx,
        instance: Instance,
        *,
        action: str | None = None,
        spec: RequestSpec | None = None,
    ) -> Instance:
        return self._bound(ctxt, await instances.create(self.engine, ctxt, instance, action, spec))

    async def instance_get(self, ctxt: Ctx, uuid: str, *, read_deleted: bool = False) -> Instance:
        return self._bound(ctxt, await instances.get(self.engine, uuid, read_deleted))

    async def instance_get_all(
        self, ctxt: Ctx, filters: dict[str, Any] | None = None
    ) -> list[Instance]:
        return self._all(ctxt, await instances.get_all(self.engine, filters))

    async def instance_get_all_by_host(
        self, ctxt: Ctx, host: str, node: str | None = None
    ) -> list[Instance]:
        filters: dict[str, Any] = {"host": host} if node is None else {"host": host, "node": node}
        return self._all(ctxt, await instances.get_all(self.engine, filters))

    async def instance_names_by_host(self, ctxt: Ctx) -> dict[str, list[tuple[str, str]]]:
        return await instances.names_by_host(self.engine)

    async def instance_states(self, ctxt: Ctx) -> dict[str, tuple[str, str | None]]:
        return await instances.states(self.engine)

    async def instance_usage_by_host(self, ctxt: Ctx) -> dict[str, tuple[int, int, int]]:
        return await instances.usage_by_host(self.engine)

    async def instance_get_unclaimed_builds(
        self, ctxt: Ctx, host: str, nodes: Sequence[str] | None = None
    ) -> list[Instance]:
        return self._all(ctxt, await requests.unclaimed_builds(self.engine, host, nodes))

    async def instance_update(
        self,
        ctxt: Ctx,
        uuid: str,
        updates: dict[str, Any],
        expected_task_state: Sequence[str | None] | None = None,
        expected_vm_state: Sequence[str | None] | None = None,
    ) -> Instance:
        hook = self.on_instance_update
        before = await instances.get(self.engine, uuid, False) if hook is not None else None
        instance = await instances.update(
            self.engine, uuid, updates, expected_task_state, expected_vm_state
        )
        if hook is not None and before is not None:
            hook(ctxt, instance, before)
        return self._bound(ctxt, instance)

    async def instance_destroy(self, ctxt: Ctx, uuid: str) -> Instance:
        return self._bound(ctxt, await instances.destroy(self.engine, uuid))

    async def instance_get_stuck(
        self, ctxt: Ctx, older_than: dt.datetime, limit: int = 500
    ) -> list[tuple[Instance, str | None]]:
        found = await recovery.stuck(self.engine, older_than, limit)
        return [(self._bound(ctxt, instances.to_instance(row)), host) for row, host in found]

    async def instance_recover(
        self,
        ctxt: Ctx,
        uuid: str,
        updated_at: dt.datetime,
        updates: dict[str, Any],
        *,
        fault: InstanceFault | None = None,
        event: tuple[str, str | None] | None = None,
        destroy: bool = False,
    ) -> Instance | None:
        found = await recovery.recover(
            self.engine, uuid, updated_at, updates, fault, event, destroy
        )
        return None if found is None else self._bound(ctxt, found)

    async def instance_start_build(self, ctxt: Ctx, uuid: str, host: str) -> Instance:
        hook = self.on_instance_update
        before = await instances.get(self.engine, uuid, False) if hook is not None else None
        started, live = await requests.start_build(self.engine, uuid, host)
        if started is None:
            instances.raise_conflict(uuid, live, [task_states.SCHEDULING])
        instance = instances.to_instance(started)
        if hook is not None and before is not None:  # a save, as instance_update's
            hook(ctxt, instance, before)
        return self._bound(ctxt, instance)

    # -- allocations ---------------------------------------------------------------------
    async def allocation_claim(
        self,
        ctxt: Ctx,
        instance_uuid: str,
        node_id: int,
        resources: tuple[int, int, int],
        limits: dict[str, Any] | None = None,
    ) -> tuple[bool, tuple[int, int, int], tuple[str, str] | None]:
        return await allocations.claim(self.engine, instance_uuid, node_id, resources, limits)

    async def allocation_delete(
        self, ctxt: Ctx, instance_uuid: str, host: str | None = None
    ) -> None:
        await allocations.delete(self.engine, instance_uuid, host)

    async def allocation_delete_orphans(self, ctxt: Ctx) -> int:
        return await allocations.delete_orphans(self.engine)

    async def allocation_usage_by_node(self, ctxt: Ctx) -> dict[int, tuple[int, int, int]]:
        return await allocations.usage_by_node(self.engine)

    # -- request specs and build selections ----------------------------------------------
    async def request_spec_save(self, ctxt: Ctx, spec: RequestSpec) -> None:
        await requests.spec_save(self.engine, spec)

    async def request_spec_get(self, ctxt: Ctx, uuid: str) -> RequestSpec:
        return self._bound(ctxt, await requests.spec_get(self.engine, uuid))

    async def build_selections_record(
        self, ctxt: Ctx, selections: Sequence[tuple[str, str, str]]
    ) -> None:
        await requests.selections_record(self.engine, selections)

    # -- actions and faults ------------------------------------------------------------------
    async def action_start(self, ctxt: RequestContext, uuid: str, action: str) -> None:
        await actions.start(self.engine, ctxt, uuid, action)

    async def action_event_start(
        self, ctxt: RequestContext, uuid: str, event: str, host: str | None = None
    ) -> None:
        await actions.event_start(self.engine, ctxt, uuid, event, host)

    async def action_event_start_once(
        self, ctxt: RequestContext, uuid: str, event: str, host: str | None = None
    ) -> bool:
        return await actions.event_start_once(self.engine, ctxt, uuid, event, host)

    async def action_event_finish(
        self,
        ctxt: RequestContext,
        uuid: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        await actions.event_finish(self.engine, ctxt, uuid, event, result, traceback)

    async def actions_get(self, ctxt: Ctx, uuid: str) -> list[InstanceAction]:
        return await actions.get_all(self.engine, uuid)

    async def action_get_by_request_id(
        self, ctxt: Ctx, instance_uuid: str, request_id: str
    ) -> InstanceAction:
        return await actions.get_by_request_id(self.engine, instance_uuid, request_id)

    async def instance_fault_create(self, ctxt: Ctx, fault: InstanceFault) -> None:
        await actions.fault_create(self.engine, fault)

    async def instance_fault_get_latest(self, ctxt: Ctx, uuid: str) -> InstanceFault | None:
        return await actions.fault_get_latest(self.engine, uuid)

    # -- services --------------------------------------------------------------------------------
    async def service_create(self, ctxt: Ctx, service: Service) -> Service:
        return self._bound(ctxt, await hosts.service_create(self.engine, service))

    async def service_get(self, ctxt: Ctx, service_id: int | None) -> Service:
        return self._bound(ctxt, await hosts.service_get(self.engine, service_id))

    async def service_get_by_uuid(self, ctxt: Ctx, uuid: str) -> Service:
        return self._bound(ctxt, await hosts.service_get_by_uuid(self.engine, uuid))

    async def service_get_by_host_and_binary(
        self, ctxt: Ctx, host: str, binary: str
    ) -> Service | None:
        found = await hosts.service_get_by_host_and_binary(self.engine, host, binary)
        return None if found is None else self._bound(ctxt, found)

    async def service_get_all(
        self, ctxt: Ctx, binary: str | None = None, since: str | None = None
    ) -> list[Service]:
        return self._all(ctxt, await hosts.service_get_all(self.engine, binary, since))

    async def service_update(self, ctxt: Ctx, service_id: int, updates: dict[str, Any]) -> Service:
        return self._bound(ctxt, await hosts.service_update(self.engine, service_id, updates))

    async def service_get_minimum_version(self, ctxt: Ctx, binary: str) -> int:
        return await hosts.service_get_minimum_version(self.engine, binary)

    # -- compute nodes -------------------------------------------------------------------------
    async def compute_node_create(self, ctxt: Ctx, node: ComputeNode) -> ComputeNode:
        return self._bound(ctxt, await hosts.node_create(self.engine, node))

    async def compute_node_get(self, ctxt: Ctx, node_id: int | None) -> ComputeNode:
        return self._bound(ctxt, await hosts.node_get(self.engine, node_id))

    async def compute_node_update(
        self, ctxt: Ctx, node_id: int, updates: dict[str, Any]
    ) -> ComputeNode:
        return self._bound(ctxt, await hosts.node_update(self.engine, node_id, updates))

    async def compute_node_get_all(self, ctxt: Ctx, since: str | None = None) -> list[ComputeNode]:
        return self._all(ctxt, await hosts.node_get_all(self.engine, since))

    async def compute_node_get_all_by_host(self, ctxt: Ctx, host: str) -> list[ComputeNode]:
        return self._all(ctxt, await hosts.node_get_all_by_host(self.engine, host))

    # -- flavors and images ----------------------------------------------------------------------
    async def flavor_create(self, ctxt: Ctx, flavor: Flavor) -> Flavor:
        return await catalog.flavor_create(self.engine, flavor)

    async def flavor_delete(self, ctxt: Ctx, flavorid: str) -> None:
        await catalog.flavor_delete(self.engine, flavorid)

    async def flavor_get_all(self, ctxt: Ctx) -> list[Flavor]:
        return await catalog.flavor_get_all(self.engine)

    async def flavor_get_by_flavor_id(self, ctxt: Ctx, flavorid: str) -> Flavor:
        return await catalog.flavor_get(self.engine, flavorid)

    async def flavor_and_image_get(
        self, ctxt: Ctx, flavorid: str, image_id: str | None
    ) -> tuple[Flavor, ImageMeta | None]:
        return await catalog.flavor_and_image_get(self.engine, flavorid, image_id)

    async def image_create(self, ctxt: Ctx, image: ImageMeta) -> ImageMeta:
        return await catalog.image_create(self.engine, image)

    async def image_get_all(self, ctxt: Ctx) -> list[ImageMeta]:
        return await catalog.image_get_all(self.engine)

    async def image_get(self, ctxt: Ctx, image_id: str) -> ImageMeta:
        return await catalog.image_get(self.engine, image_id)

    # -- migrations ------------------------------------------------------------------------------
    async def migration_create(self, ctxt: Ctx, migration: Migration) -> Migration:
        return self._bound(ctxt, await migrations.create(self.engine, migration))

    async def migration_get(self, ctxt: Ctx, migration_id: int | None) -> Migration:
        return self._bound(ctxt, await migrations.get(self.engine, migration_id))

    async def migration_update(
        self, ctxt: Ctx, migration_id: int, updates: dict[str, Any]
    ) -> Migration:
        return self._bound(ctxt, await migrations.update(self.engine, migration_id, updates))

    async def migration_get_all(
        self, ctxt: Ctx, filters: dict[str, Any] | None = None
    ) -> list[Migration]:
        return self._all(ctxt, await migrations.get_all(self.engine, filters))

    async def migration_get_by_instance_and_status(
        self, ctxt: Ctx, instance_uuid: str, status: str
    ) -> Migration:
        found = await self.migration_get_all(
            ctxt, {"instance_uuid": instance_uuid, "status": status}
        )
        if not found:
            raise exception.MigrationNotFound(migration_id=f"{instance_uuid}/{status}")
        return found[-1]
