"""The Database: every query the control plane makes (instances, faults, actions here)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import msgspec

from aionova import exception
from aionova.context import RequestContext
from aionova.db.core import (
    READ,
    STATEMENT,
    WRITE,
    Connection,
    Ctx,
    fetch_rows,
    fmt_time,
    from_row,
    to_db,
    utcnow,
)
from aionova.db.hosts import HostQueries
from aionova.db.moves import MoveQueries
from aionova.objects import (
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    RequestSpec,
)
from aionova.states import task_states, vm_states

_INSTANCE_JSON = frozenset({"flavor", "metadata", "system_metadata"})
_INSTANCE_COLS = tuple(Instance.__struct_fields__)
_TIME_COLS = frozenset({"launched_at", "terminated_at", "created_at", "updated_at"})
_INSTANCE_INSERT = (
    f"INSERT INTO instances ({','.join(_INSTANCE_COLS)})"
    f" VALUES ({','.join('?' * len(_INSTANCE_COLS))}) RETURNING *"
)
_INSTANCE_LIVE = "SELECT * FROM instances WHERE uuid=? AND deleted=0"
_ACTION_OF_REQUEST = "WHERE instance_uuid=? AND request_id=? ORDER BY id DESC LIMIT 1"
_EVENTS_OF_ACTION = "SELECT * FROM instance_actions_events WHERE action_id=? ORDER BY id"
# Only for a live instance: one deleted meanwhile (instance_destroy drops its row)
# must not get a row back that nothing would ever remove.
_SELECTION_UPSERT = (
    "INSERT OR REPLACE INTO build_selections (instance_uuid, host, node, created_at)"
    " SELECT ?,?,?,? WHERE EXISTS (SELECT 1 FROM instances WHERE uuid=? AND deleted=0)"
)


def _where_in(column: str, values: Sequence[str | None]) -> tuple[str, list[Any]]:
    """``column IN (...)`` where a None member means "IS NULL"."""
    concrete = [v for v in values if v is not None]
    parts = []
    if concrete:
        parts.append(f"{column} IN ({','.join('?' * len(concrete))})")
    if len(concrete) != len(values):
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts or ["0"]) + ")", concrete


class Database(MoveQueries, HostQueries):
    """Shared by api, conductor and scheduler; objects it returns are bound to it."""

    def __init__(self, path: str | Path) -> None:
        self.db = Connection(path)

    async def open(self) -> Database:
        await self.db.open()
        return self

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- instances ----------------------------------------------------------
    def _instance(self, ctxt: Ctx, row: Any) -> Instance:
        return from_row(Instance, row, _INSTANCE_JSON).bind(ctxt, self)

    async def instance_create(
        self,
        ctxt: Ctx,
        instance: Instance,
        *,
        action: str | None = None,
        spec: RequestSpec | None = None,
    ) -> Instance:
        """Insert a new instance row; returns it bound to this store.

        With ``action`` the request's action is opened and with ``spec`` the
        request spec saved, in the same transaction (one round trip).
        """
        now = utcnow()
        instance.created_at = instance.created_at or now
        instance.updated_at = now
        values = tuple(to_db(getattr(instance, c), is_time=c in _TIME_COLS) for c in _INSTANCE_COLS)
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if action is not None:
            if ctxt is None:
                raise exception.InvalidRequest(reason="an action needs a request context")
            statements.append(_action_insert(ctxt, instance.uuid, action))
        if spec is not None:
            statements.append(_spec_insert(spec))

        def job(conn: sqlite3.Connection) -> Any:
            row = fetch_rows(conn, _INSTANCE_INSERT, values)[0]
            for sql, params in statements:
                conn.execute(sql, params).close()
            return row

        return self._instance(ctxt, await self.db.run(job, WRITE if statements else STATEMENT))

    async def instance_get(self, ctxt: Ctx, uuid: str, *, read_deleted: bool = False) -> Instance:
        """One instance or ``InstanceNotFound``."""
        sql = "SELECT * FROM instances WHERE uuid=?" if read_deleted else _INSTANCE_LIVE
        row = await self.db.fetchone(sql, (uuid,))
        if row is None:
            raise exception.InstanceNotFound(instance_id=uuid)
        return self._instance(ctxt, row)

    async def instance_get_all(
        self, ctxt: Ctx, filters: dict[str, Any] | None = None
    ) -> list[Instance]:
        """Instances matching equality filters on columns (deleted rows excluded)."""
        filters = dict(filters or {})
        clauses, params = ["deleted=0"], []
        for key, value in filters.items():
            if key not in Instance.__struct_fields__:
                raise exception.InvalidRequest(reason=f"unknown filter {key}")
            if value is None:
                clauses.append(f"{key} IS NULL")
            else:
                clauses.append(f"{key}=?")
                params.append(to_db(value))
        rows = await self.db.fetchall(
            f"SELECT * FROM instances WHERE {' AND '.join(clauses)} ORDER BY created_at",
            tuple(params),
        )
        return [self._instance(ctxt, r) for r in rows]

    async def instance_get_all_by_host(
        self, ctxt: Ctx, host: str, node: str | None = None
    ) -> list[Instance]:
        """Instances on a host (and node)."""
        filters: dict[str, Any] = {"host": host}
        if node is not None:
            filters["node"] = node
        return await self.instance_get_all(ctxt, filters)

    async def instance_names_by_host(self, ctxt: Ctx) -> dict[str, list[tuple[str, str]]]:
        """host → [(uuid, display name)] of the live instances placed on a host."""
        rows = await self.db.fetchall(
            "SELECT host, uuid, display_name FROM instances WHERE deleted=0 AND host IS NOT NULL"
        )
        out: dict[str, list[tuple[str, str]]] = {}
        for host, uuid, name in rows:
            out.setdefault(host, []).append((uuid, name or ""))
        return out

    # -- build selections ------------------------------------------------------
    async def build_selections_record(
        self, ctxt: Ctx, selections: Sequence[tuple[str, str, str]]
    ) -> None:
        """Note ``(instance_uuid, host, node)``: where each build is being sent.

        aionova's stand-in for the placement allocations Nova's scheduler makes
        against the chosen node; a reschedule replaces the instance's entry. Deleting
        the instance (``instance_destroy``) removes it; none is kept for an instance
        already deleted.
        """
        now = fmt_time(utcnow())
        rows = [(uuid, host, node, now, uuid) for uuid, host, node in selections]

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(_SELECTION_UPSERT, rows).close()

        await self.db.run(job, WRITE)

    async def instance_get_unclaimed_builds(
        self, ctxt: Ctx, host: str, nodes: Sequence[str] | None = None
    ) -> list[Instance]:
        """BUILDING instances whose build was last sent to ``host`` (one of ``nodes``)
        and that no compute has claimed yet (``host`` still NULL)."""
        sql = (
            "SELECT i.* FROM instances i JOIN build_selections s ON s.instance_uuid=i.uuid"
            " WHERE s.host=? AND i.host IS NULL AND i.vm_state=? AND i.deleted=0"
        )
        params: list[Any] = [host, vm_states.BUILDING]
        if nodes is not None:
            clause, values = _where_in("s.node", list(nodes))
            sql += f" AND {clause}"
            params += values
        rows = await self.db.fetchall(f"{sql} ORDER BY i.created_at", tuple(params))
        return [self._instance(ctxt, r) for r in rows]

    async def instance_update(
        self,
        ctxt: Ctx,
        uuid: str,
        updates: dict[str, Any],
        expected_task_state: Sequence[str | None] | None = None,
        expected_vm_state: Sequence[str | None] | None = None,
    ) -> Instance:
        """Compare-and-swap update: one ``UPDATE … WHERE task_state IN (…)``."""
        updates = {k: v for k, v in updates.items() if k not in ("uuid", "created_at")}
        updates["updated_at"] = utcnow()
        sets, params = [], []
        for key, value in updates.items():
            if key not in Instance.__struct_fields__:
                raise exception.InvalidRequest(reason=f"unknown field {key}")
            sets.append(f"{key}=?")
            params.append(to_db(value, is_time=key in _TIME_COLS and value is not None))
        where, wparams = ["uuid=?", "deleted=0"], [uuid]
        checks = (("task_state", expected_task_state), ("vm_state", expected_vm_state))
        for column, expected in checks:
            if expected is not None:
                clause, values = _where_in(column, list(expected))
                where.append(clause)
                wparams.extend(values)
        sql = f"UPDATE instances SET {','.join(sets)} WHERE {' AND '.join(where)} RETURNING *"
        args = (*params, *wparams)

        def job(conn: sqlite3.Connection) -> tuple[bool, Any]:
            rows = fetch_rows(conn, sql, args)
            if rows:
                return True, rows[0]
            # No row matched: the live row (if any) tells which check failed.
            return False, fetch_rows(conn, _INSTANCE_LIVE, (uuid,))

        updated, found = await self.db.run(job, STATEMENT)  # the SELECT only reads
        if updated:
            return self._instance(ctxt, found)
        self._raise_conflict(ctxt, uuid, found, expected_task_state, expected_vm_state)

    def _raise_conflict(
        self,
        ctxt: Ctx,
        uuid: str,
        rows: list[Any],
        expected_task: Sequence[str | None] | None,
        expected_vm: Sequence[str | None] | None,
    ) -> NoReturn:
        if not rows:
            raise exception.InstanceNotFound(instance_id=uuid)
        current = self._instance(ctxt, rows[0])
        if expected_task is not None and current.task_state not in expected_task:
            cls = (
                exception.UnexpectedDeletingTaskStateError
                if current.task_state == task_states.DELETING
                else exception.UnexpectedTaskStateError
            )
            raise cls(instance_uuid=uuid, expected=list(expected_task), actual=current.task_state)
        raise exception.InstanceUpdateConflict(instance_uuid=uuid)

    # -- faults ---------------------------------------------------------------
    async def instance_fault_create(self, ctxt: Ctx, fault: InstanceFault) -> None:
        """Record a fault on an instance."""
        await self.db.execute(
            "INSERT INTO instance_faults (instance_uuid, code, message, details, host, created_at)"
            " VALUES (?,?,?,?,?,?)",
            (
                fault.instance_uuid,
                fault.code,
                fault.message[:255],
                fault.details,
                fault.host,
                fmt_time(utcnow()),
            ),
        )

    async def instance_fault_get_latest(self, ctxt: Ctx, uuid: str) -> InstanceFault | None:
        """The newest fault of an instance, if any."""
        row = await self.db.fetchone(
            "SELECT * FROM instance_faults WHERE instance_uuid=? ORDER BY id DESC LIMIT 1", (uuid,)
        )
        return None if row is None else from_row(InstanceFault, row, frozenset())

    # -- actions and events -----------------------------------------------------
    async def action_start(self, ctxt: RequestContext, uuid: str, action: str) -> None:
        """Open the action a request performs on an instance."""
        await self.db.execute(*_action_insert(ctxt, uuid, action))

    async def action_event_start(
        self, ctxt: RequestContext, uuid: str, event: str, host: str | None = None
    ) -> None:
        """Open an event of the request's action (ignored when there is no action)."""
        await self.db.execute(
            "INSERT INTO instance_actions_events (action_id, event, host, start_time)"
            f" SELECT id, ?, ?, ? FROM instance_actions {_ACTION_OF_REQUEST}",
            (event, host, fmt_time(utcnow()), uuid, ctxt.request_id),
        )

    async def action_event_finish(
        self,
        ctxt: RequestContext,
        uuid: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        """Close an event with ``Success`` or ``Error``; an error marks the action too."""
        action = f"(SELECT id FROM instance_actions {_ACTION_OF_REQUEST})"
        now, key = fmt_time(utcnow()), (uuid, ctxt.request_id)

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE instance_actions_events SET result=?, traceback=?, finish_time=?"
                " WHERE id=(SELECT MAX(id) FROM instance_actions_events"
                f" WHERE action_id={action} AND event=?)",
                (result, traceback, now, *key, event),
            ).close()
            if result == "Error":
                conn.execute(
                    f"UPDATE instance_actions SET message='Error' WHERE id={action}", key
                ).close()

        await self.db.run(job, WRITE if result == "Error" else STATEMENT)

    async def actions_get(self, ctxt: Ctx, uuid: str) -> list[InstanceAction]:
        """Every action of an instance with its events, oldest first (one round trip)."""

        def job(conn: sqlite3.Connection) -> list[tuple[Any, list[Any]]]:
            actions = fetch_rows(
                conn, "SELECT * FROM instance_actions WHERE instance_uuid=? ORDER BY id", (uuid,)
            )
            return [(a, fetch_rows(conn, _EVENTS_OF_ACTION, (a["id"],))) for a in actions]

        return [_action(a, events) for a, events in await self.db.run(job, READ)]


def _action(row: Any, events: list[Any]) -> InstanceAction:
    """An action with its events from rows."""
    action = from_row(InstanceAction, row, frozenset())
    action.events = [from_row(InstanceActionEvent, e, frozenset()) for e in events]
    return action


def _action_insert(ctxt: RequestContext, uuid: str, action: str) -> tuple[str, tuple[Any, ...]]:
    """The statement opening ``action`` of the request on an instance."""
    return (
        "INSERT INTO instance_actions (instance_uuid, action, request_id, user_id, project_id,"
        " start_time) VALUES (?,?,?,?,?,?)",
        (uuid, action, ctxt.request_id, ctxt.user_id, ctxt.project_id, fmt_time(utcnow())),
    )


def _spec_insert(spec: RequestSpec) -> tuple[str, tuple[Any, ...]]:
    """The statement creating or replacing an instance's request spec."""
    return (
        "INSERT OR REPLACE INTO request_specs (instance_uuid, spec) VALUES (?,?)",
        (spec.instance_uuid, msgspec.json.encode(spec).decode()),
    )
