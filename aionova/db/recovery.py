"""Work the API or the conductor accepted and nobody owns any more (a crash lost the
message or the process): found by age, claimed by compare-and-swap on ``updated_at``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aionova.db import actions, allocations, requests
from aionova.db.engine import Engine, Row, Tx
from aionova.db.instances import to_instance
from aionova.db.rows import fmt_time, now_text, to_db, update_sql
from aionova.objects import Instance, InstanceFault
from aionova.states import power_state, task_states, vm_states

# Task states the API sets before it casts, and deleting (which a compute owns only
# while the instance has a host): left alone too long, nobody will end them.
ORPHANABLE_TASKS = (
    task_states.REBUILDING,
    task_states.DELETING,
    task_states.REBOOTING,
    task_states.REBOOTING_HARD,
    task_states.POWERING_OFF,
    task_states.POWERING_ON,
)
_STUCK = (
    "SELECT i.*, s.host AS selected_host FROM instances i"
    " LEFT JOIN build_selections s ON s.instance_uuid=i.uuid"
    " WHERE i.deleted=0 AND i.updated_at<?"
    f" AND ((i.vm_state=? AND i.host IS NULL) OR i.task_state IN ({','.join('?' * 6)}))"
    " ORDER BY i.updated_at LIMIT ?"
)
_DESTROY = (
    "UPDATE instances SET deleted=1, vm_state=?, task_state=NULL, power_state=?,"
    " terminated_at=COALESCE(terminated_at, ?) WHERE uuid=?"
)


async def stuck(
    engine: Engine, older_than: dt.datetime, limit: int
) -> list[tuple[Row, str | None]]:
    """Instances building without a host, or in an orphanable task state, unchanged since
    ``older_than`` (oldest first); each with the host its build was last sent to."""
    params = (fmt_time(older_than), vm_states.BUILDING, *ORPHANABLE_TASKS, limit)
    return [(row, row["selected_host"]) for row in await engine.fetch(_STUCK, params)]


async def recover(
    engine: Engine,
    uuid: str,
    updated_at: dt.datetime,
    updates: dict[str, Any],
    fault: InstanceFault | None,
    event: tuple[str, str | None] | None,
    destroy: bool,
) -> Instance | None:
    """Claim and act in one transaction: the update applies only if the row is still the
    one read (same ``updated_at``); then the fault, the action event ``(name, host)``
    (``Error`` with a fault, else ``Success``) and, with ``destroy``, the soft delete.
    None when another recoverer (or anything else) changed the instance first."""
    updates = {**updates, "updated_at": now_text()}
    sql = update_sql("instances", list(updates), "uuid=? AND deleted=0 AND updated_at=?")
    params = (*(to_db(v) for v in updates.values()), uuid, fmt_time(updated_at))

    async def job(tx: Tx) -> Row | None:
        rows = await tx.fetch(sql, params)
        if not rows:
            return None
        if fault is not None:
            await tx.execute(*actions.fault_statement(fault))
        if event is not None:
            result, details = ("Error", fault.details) if fault is not None else ("Success", None)
            await actions.record_event(tx, uuid, event[0], event[1], result, details)
        if destroy:
            now = now_text()
            await tx.execute(_DESTROY, (vm_states.DELETED, power_state.NOSTATE, now, uuid))
            await tx.execute(requests.SELECTION_DELETE, (uuid,))
        if destroy or (rows[0]["vm_state"] == vm_states.ERROR and rows[0]["host"] is None):
            await tx.execute(allocations.DELETE_ALL, (uuid,))  # a build that never landed
        return rows[0]

    row = await engine.transaction(job)
    return None if row is None else to_instance(row)
