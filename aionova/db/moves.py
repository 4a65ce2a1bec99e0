"""Queries for the operations after boot: migrations, service lookups, deletes, actions."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from aionova import exception
from aionova.db.core import READ, WRITE, Ctx, fetch_rows, fmt_time, from_row, utcnow
from aionova.objects import InstanceAction, InstanceActionEvent, Migration, Service
from aionova.states import power_state, vm_states

if TYPE_CHECKING:
    from aionova.db.core import Connection

_NONE: frozenset[str] = frozenset()
_INSTANCE_DESTROY = (
    "UPDATE instances SET deleted=1, vm_state=?, task_state=NULL, power_state=?,"
    " terminated_at=COALESCE(terminated_at, ?), updated_at=? WHERE uuid=? AND deleted=0"
    " RETURNING *"
)
_SELECTION_DELETE = "DELETE FROM build_selections WHERE instance_uuid=?"
_MIGRATION_FILTERS = frozenset(
    {"instance_uuid", "source_compute", "dest_compute", "status", "migration_type"}
)


class MoveQueries:
    """Mixin of ``Database``: migrations (evacuations), instance deletion, lookups by uuid."""

    db: Connection

    async def migration_get_all(
        self, ctxt: Ctx, filters: dict[str, Any] | None = None
    ) -> list[Migration]:
        """Migrations matching equality filters; a list value means ``IN``; newest last.

        Filters: instance_uuid, source_compute, dest_compute, status, migration_type,
        and ``host`` (source or destination).
        """
        clauses, params = ["deleted=0"], []
        for key, value in (filters or {}).items():
            if key == "host":
                clauses.append("(source_compute=? OR dest_compute=?)")
                params += [value, value]
                continue
            if key not in _MIGRATION_FILTERS:
                raise exception.InvalidRequest(reason=f"unknown migration filter {key}")
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            clauses.append(f"{key} IN ({','.join('?' * len(values))})")
            params += values
        rows = await self.db.fetchall(
            f"SELECT * FROM migrations WHERE {' AND '.join(clauses)} ORDER BY id", tuple(params)
        )
        return [from_row(Migration, r, _NONE).bind(ctxt, self) for r in rows]

    async def migration_get_by_instance_and_status(
        self, ctxt: Ctx, instance_uuid: str, status: str
    ) -> Migration:
        """The newest migration of an instance in a status (``MigrationNotFound`` otherwise)."""
        found = await self.migration_get_all(
            ctxt, {"instance_uuid": instance_uuid, "status": status}
        )
        if not found:
            raise exception.MigrationNotFound(migration_id=f"{instance_uuid}/{status}")
        return found[-1]

    async def service_get_by_uuid(self, ctxt: Ctx, uuid: str) -> Service:
        row = await self.db.fetchone("SELECT * FROM services WHERE uuid=? AND deleted=0", (uuid,))
        if row is None:
            raise exception.ServiceNotFound(service_id=uuid)
        return from_row(Service, row, _NONE).bind(ctxt, self)

    async def instance_destroy(self, ctxt: Ctx, uuid: str) -> Any:
        """Soft-delete an instance row: vm DELETED, task None, terminated; returns it.

        Its build selection goes in the same transaction: where Nova deletes the
        instance's placement allocations, so the table does not grow forever.
        """
        now = fmt_time(utcnow())
        params = (vm_states.DELETED, power_state.NOSTATE, now, now, uuid)

        def job(conn: sqlite3.Connection) -> list[Any]:
            rows = fetch_rows(conn, _INSTANCE_DESTROY, params)
            if rows:
                conn.execute(_SELECTION_DELETE, (uuid,)).close()
            return rows

        rows = await self.db.run(job, WRITE)
        if not rows:
            raise exception.InstanceNotFound(instance_id=uuid)
        return self._instance(ctxt, rows[0])  # type: ignore[attr-defined]

    async def action_get_by_request_id(
        self, ctxt: Ctx, instance_uuid: str, request_id: str
    ) -> InstanceAction:
        """One action of an instance with its events (``NotFound`` otherwise)."""

        def job(conn: sqlite3.Connection) -> tuple[Any, list[Any]] | None:
            rows = fetch_rows(
                conn,
                "SELECT * FROM instance_actions WHERE instance_uuid=? AND request_id=?"
                " ORDER BY id DESC LIMIT 1",
                (instance_uuid, request_id),
            )
            if not rows:
                return None
            events = fetch_rows(
                conn,
                "SELECT * FROM instance_actions_events WHERE action_id=? ORDER BY id",
                (rows[0]["id"],),
            )
            return rows[0], events

        found = await self.db.run(job, READ)
        if found is None:
            raise exception.NotFound(f"Action for request {request_id} could not be found.")
        action = from_row(InstanceAction, found[0], _NONE)
        action.events = [from_row(InstanceActionEvent, e, _NONE) for e in found[1]]
        return action
