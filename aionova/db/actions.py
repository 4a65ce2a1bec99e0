"""Instance actions with their events, and instance faults."""

from __future__ import annotations

from typing import Any

from aionova import exception
from aionova.context import RequestContext
from aionova.db.engine import Engine, Row, Tx
from aionova.db.rows import from_row, now_text
from aionova.objects import InstanceAction, InstanceActionEvent, InstanceFault

_OF_REQUEST = "WHERE instance_uuid=? AND request_id=? ORDER BY id DESC LIMIT 1"
_EVENTS = "SELECT * FROM instance_actions_events WHERE action_id=? ORDER BY id"
_NEWEST = "(SELECT MAX(id) FROM instance_actions WHERE instance_uuid=?)"
_FAULT_INSERT = (
    "INSERT INTO instance_faults (instance_uuid, code, message, details, host, created_at)"
    " VALUES (?,?,?,?,?,?)"
)


def start_statement(ctxt: RequestContext, uuid: str, action: str) -> tuple[str, tuple[Any, ...]]:
    """The statement opening ``action`` of the request on an instance."""
    return (
        "INSERT INTO instance_actions (instance_uuid, action, request_id, user_id, project_id,"
        " start_time) VALUES (?,?,?,?,?,?)",
        (uuid, action, ctxt.request_id, ctxt.user_id, ctxt.project_id, now_text()),
    )


def fault_statement(fault: InstanceFault) -> tuple[str, tuple[Any, ...]]:
    """The statement recording a fault (message cut to the column's 255 characters)."""
    params = (
        fault.instance_uuid,
        fault.code,
        fault.message[:255],
        fault.details,
        fault.host,
        now_text(),
    )
    return _FAULT_INSERT, params


async def start(engine: Engine, ctxt: RequestContext, uuid: str, action: str) -> None:
    await engine.execute(*start_statement(ctxt, uuid, action))


async def event_start(
    engine: Engine, ctxt: RequestContext, uuid: str, event: str, host: str | None
) -> None:
    """Open an event of the request's action (nothing when there is no action)."""
    await engine.execute(
        "INSERT INTO instance_actions_events (action_id, event, host, start_time)"
        f" SELECT id, ?, ?, ? FROM instance_actions {_OF_REQUEST}",
        (event, host, now_text(), uuid, ctxt.request_id),
    )


_LOCK_ACTION = (
    "UPDATE instance_actions SET message=message"
    f" WHERE id=(SELECT id FROM instance_actions {_OF_REQUEST}) RETURNING id"
)
_HAS_EVENT = "SELECT 1 FROM instance_actions_events WHERE action_id=? AND event=?"


async def event_start_once(
    engine: Engine, ctxt: RequestContext, uuid: str, event: str, host: str | None
) -> bool:
    """Open an event unless the request's action has it already: False then (the
    request was delivered again; its work is done or in progress). The action row is
    locked first, so of two deliveries at once exactly one opens the event. True,
    recording nothing, when the request has no action (work the services start)."""
    now = now_text()

    async def job(tx: Tx) -> bool:
        action = await tx.fetch(_LOCK_ACTION, (uuid, ctxt.request_id))
        if not action:
            return True
        action_id = action[0][0]
        if await tx.fetch(_HAS_EVENT, (action_id, event)):
            return False
        await tx.execute(
            "INSERT INTO instance_actions_events (action_id, event, host, start_time)"
            " VALUES (?,?,?,?)",
            (action_id, event, host, now),
        )
        return True

    return await engine.transaction(job)


async def event_finish(
    engine: Engine,
    ctxt: RequestContext,
    uuid: str,
    event: str,
    result: str,
    traceback: str | None,
) -> None:
    """Close an event with ``Success`` or ``Error``; an error marks the action too."""
    action = f"(SELECT id FROM instance_actions {_OF_REQUEST})"
    key = (uuid, ctxt.request_id)
    finish = (
        "UPDATE instance_actions_events SET result=?, traceback=?, finish_time=?"
        " WHERE id=(SELECT MAX(id) FROM instance_actions_events"
        f" WHERE action_id={action} AND event=?)"
    )
    params = (result, traceback, now_text(), *key, event)
    if result != "Error":
        await engine.execute(finish, params)
        return

    async def job(tx: Tx) -> None:
        await tx.execute(finish, params)
        await tx.execute(f"UPDATE instance_actions SET message='Error' WHERE id={action}", key)

    await engine.transaction(job)


async def record_event(
    tx: Tx, uuid: str, event: str, host: str | None, result: str, traceback: str | None
) -> None:
    """A finished event on the instance's newest action, whatever request opened it
    (work the services do on their own, e.g. recovering a stuck build)."""
    now = now_text()
    await tx.execute(
        "INSERT INTO instance_actions_events"
        " (action_id, event, host, start_time, finish_time, result, traceback)"
        f" SELECT {_NEWEST}, ?, ?, ?, ?, ?, ? WHERE {_NEWEST} IS NOT NULL",
        (uuid, event, host, now, now, result, traceback, uuid),
    )
    if result == "Error":
        await tx.execute(f"UPDATE instance_actions SET message='Error' WHERE id={_NEWEST}", (uuid,))


def _action(row: Row, events: list[Row]) -> InstanceAction:
    action = from_row(InstanceAction, row)
    action.events = [from_row(InstanceActionEvent, e) for e in events]
    return action


async def get_all(engine: Engine, uuid: str) -> list[InstanceAction]:
    """Every action of an instance with its events, oldest first (one round trip)."""

    async def job(tx: Tx) -> list[tuple[Row, list[Row]]]:
        actions = await tx.fetch(
            "SELECT * FROM instance_actions WHERE instance_uuid=? ORDER BY id", (uuid,)
        )
        return [(a, await tx.fetch(_EVENTS, (a["id"],))) for a in actions]

    return [_action(a, events) for a, events in await engine.transaction(job, readonly=True)]


async def get_by_request_id(engine: Engine, uuid: str, request_id: str) -> InstanceAction:
    """One action of an instance with its events (``NotFound`` otherwise)."""

    async def job(tx: Tx) -> tuple[Row, list[Row]] | None:
        rows = await tx.fetch(f"SELECT * FROM instance_actions {_OF_REQUEST}", (uuid, request_id))
        return (rows[0], await tx.fetch(_EVENTS, (rows[0]["id"],))) if rows else None

    found = await engine.transaction(job, readonly=True)
    if found is None:
        raise exception.NotFound(f"Action for request {request_id} could not be found.")
    return _action(*found)


async def fault_create(engine: Engine, fault: InstanceFault) -> None:
    await engine.execute(*fault_statement(fault))


async def fault_get_latest(engine: Engine, uuid: str) -> InstanceFault | None:
    """The newest fault of an instance, if any."""
    rows = await engine.fetch(
        "SELECT * FROM instance_faults WHERE instance_uuid=? ORDER BY id DESC LIMIT 1", (uuid,)
    )
    return from_row(InstanceFault, rows[0]) if rows else None
