"""Instances: create, read, compare-and-swap update, soft delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from aionova import exception
from aionova.context import RequestContext
from aionova.db import actions, allocations, requests
from aionova.db.engine import Engine, Row, Tx
from aionova.db.rows import INSTANCE_JSON, from_row, insert_sql, now_text, to_db, utcnow, where_in
from aionova.objects import Instance, RequestSpec
from aionova.states import power_state, task_states, vm_states

_COLS = tuple(Instance.__struct_fields__)
_TIME_COLS = frozenset({"launched_at", "terminated_at", "created_at", "updated_at"})
_INSERT = insert_sql("instances", _COLS)
_LIVE = "SELECT * FROM instances WHERE uuid=? AND deleted=0"
_DESTROY = (
    "UPDATE instances SET deleted=1, vm_state=?, task_state=NULL, power_state=?,"
    " terminated_at=COALESCE(terminated_at, ?), updated_at=? WHERE uuid=? AND deleted=0"
    " RETURNING *"
)
Expected = Sequence[str | None] | None


def to_instance(row: Row) -> Instance:
    return from_row(Instance, row, INSTANCE_JSON)


async def create(
    engine: Engine,
    ctxt: RequestContext | None,
    instance: Instance,
    action: str | None,
    spec: RequestSpec | None,
) -> Instance:
    """Insert the row; with ``action`` the request's action is opened and with ``spec``
    the request spec saved, in the same transaction (one round trip)."""
    now = utcnow()
    instance.created_at = instance.created_at or now
    instance.updated_at = now
    values = tuple(to_db(getattr(instance, c), is_time=c in _TIME_COLS) for c in _COLS)
    statements: list[tuple[str, tuple[Any, ...]]] = []
    if action is not None:
        if ctxt is None:
            raise exception.InvalidRequest(reason="an action needs a request context")
        statements.append(actions.start_statement(ctxt, instance.uuid, action))
    if spec is not None:
        statements.append(requests.spec_statement(spec))
    if not statements:
        return to_instance((await engine.fetch(_INSERT, values))[0])

    async def job(tx: Tx) -> Row:
        row = (await tx.fetch(_INSERT, values))[0]
        for sql, params in statements:
            await tx.execute(sql, params)
        return row

    return to_instance(await engine.transaction(job))


async def get(engine: Engine, uuid: str, read_deleted: bool) -> Instance:
    """One instance or ``InstanceNotFound``."""
    sql = "SELECT * FROM instances WHERE uuid=?" if read_deleted else _LIVE
    rows = await engine.fetch(sql, (uuid,))
    if not rows:
        raise exception.InstanceNotFound(instance_id=uuid)
    return to_instance(rows[0])


async def get_all(engine: Engine, filters: dict[str, Any] | None) -> list[Instance]:
    """Instances matching equality filters on columns (deleted rows excluded)."""
    clauses, params = ["deleted=0"], []
    for key, value in (filters or {}).items():
        if key not in Instance.__struct_fields__:
            raise exception.InvalidRequest(reason=f"unknown filter {key}")
        if value is None:
            clauses.append(f"{key} IS NULL")
        else:
            clauses.append(f"{key}=?")
            params.append(to_db(value))
    rows = await engine.fetch(
        f"SELECT * FROM instances WHERE {' AND '.join(clauses)} ORDER BY created_at", params
    )
    return [to_instance(r) for r in rows]


async def names_by_host(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """host → [(uuid, display name)] of the live instances placed on a host."""
    rows = await engine.fetch(
        "SELECT host, uuid, display_name FROM instances WHERE deleted=0 AND host IS NOT NULL"
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for host, uuid, name in rows:
        out.setdefault(host, []).append((uuid, name or ""))
    return out


async def states(engine: Engine) -> dict[str, tuple[str, str | None]]:
    """uuid → (vm_state, task_state) of every live instance."""
    rows = await engine.fetch("SELECT uuid, vm_state, task_state FROM instances WHERE deleted=0")
    return {uuid: (vm, task) for uuid, vm, task in rows}


async def usage_by_host(engine: Engine) -> dict[str, tuple[int, int, int]]:
    """host → (memory MB, disk GB, vCPUs) of its live instances."""
    rows = await engine.fetch(
        "SELECT host, SUM(memory_mb), SUM(root_gb + ephemeral_gb), SUM(vcpus) FROM instances"
        " WHERE host IS NOT NULL AND deleted=0 GROUP BY host"
    )
    return {host: (int(mem or 0), int(disk or 0), int(cpus or 0)) for host, mem, disk, cpus in rows}


def _update_sql(
    uuid: str, updates: dict[str, Any], expected_task: Expected, expected_vm: Expected
) -> tuple[str, list[Any]]:
    updates = {k: v for k, v in updates.items() if k not in ("uuid", "created_at")}
    updates["updated_at"] = utcnow()
    sets, params = [], []
    for key, value in updates.items():
        if key not in Instance.__struct_fields__:
            raise exception.InvalidRequest(reason=f"unknown field {key}")
        sets.append(f"{key}=?")
        params.append(to_db(value, is_time=key in _TIME_COLS and value is not None))
    where, wparams = ["uuid=?", "deleted=0"], [uuid]
    for column, expected in (("task_state", expected_task), ("vm_state", expected_vm)):
        if expected is not None:
            clause, values = where_in(column, list(expected))
            where.append(clause)
            wparams.extend(values)
    sql = f"UPDATE instances SET {','.join(sets)} WHERE {' AND '.join(where)} RETURNING *"
    return sql, [*params, *wparams]


async def update(
    engine: Engine,
    uuid: str,
    updates: dict[str, Any],
    expected_task: Expected,
    expected_vm: Expected,
) -> Instance:
    """Compare-and-swap: one ``UPDATE … WHERE task_state IN (…)``; a mismatch raises."""
    sql, params = _update_sql(uuid, updates, expected_task, expected_vm)

    async def job(tx: Tx) -> tuple[bool, list[Row]]:
        rows = await tx.fetch(sql, params)
        if rows:
            return True, rows
        # No row matched: the live row (if any) tells which check failed.
        return False, await tx.fetch(_LIVE, (uuid,))

    updated, rows = await engine.transaction(job, one_write=True)  # the SELECT only reads
    if updated:
        return to_instance(rows[0])
    raise_conflict(uuid, rows, expected_task)


def raise_conflict(uuid: str, rows: list[Row], expected_task: Expected) -> NoReturn:
    if not rows:
        raise exception.InstanceNotFound(instance_id=uuid)
    current = to_instance(rows[0])
    if expected_task is not None and current.task_state not in expected_task:
        cls = (
            exception.UnexpectedDeletingTaskStateError
            if current.task_state == task_states.DELETING
            else exception.UnexpectedTaskStateError
        )
        raise cls(instance_uuid=uuid, expected=list(expected_task), actual=current.task_state)
    raise exception.InstanceUpdateConflict(instance_uuid=uuid)


async def destroy(engine: Engine, uuid: str) -> Instance:
    """Soft-delete: vm DELETED, task None, terminated. Its build selection and its
    allocations go in the same transaction (Nova deletes its placement allocations)."""
    now = now_text()
    params = (vm_states.DELETED, power_state.NOSTATE, now, now, uuid)

    async def job(tx: Tx) -> list[Row]:
        rows = await tx.fetch(_DESTROY, params)
        if rows:
            await tx.execute(requests.SELECTION_DELETE, (uuid,))
            await tx.execute(allocations.DELETE_ALL, (uuid,))
        return rows

    rows = await engine.transaction(job)
    if not rows:
        raise exception.InstanceNotFound(instance_id=uuid)
    return to_instance(rows[0])
