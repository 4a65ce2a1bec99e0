"""What a build asked for and where it was sent: request specs and build selections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from aionova import exception
from aionova.db.engine import Engine, Row, Tx
from aionova.db.rows import INSTANCE_JSON, from_row, now_text, where_in
from aionova.objects import Instance, RequestSpec
from aionova.states import task_states, vm_states

_SPEC_UPSERT = (
    "INSERT INTO request_specs (instance_uuid, spec) VALUES (?,?)"
    " ON CONFLICT (instance_uuid) DO UPDATE SET spec=excluded.spec"
)
# Only for a live instance: one deleted meanwhile (instances.destroy drops its row)
# must not get a row back that nothing would ever remove.
SELECTION_UPSERT_LIVE = (
    "INSERT INTO build_selections (instance_uuid, host, node, created_at)"
    " SELECT ?,?,?,? WHERE EXISTS (SELECT 1 FROM instances WHERE uuid=? AND deleted=0)"
    " ON CONFLICT (instance_uuid) DO UPDATE"
    " SET host=excluded.host, node=excluded.node, created_at=excluded.created_at"
)
SELECTION_DELETE = "DELETE FROM build_selections WHERE instance_uuid=?"
_LIVE = "SELECT * FROM instances WHERE uuid=? AND deleted=0"


def spec_statement(spec: RequestSpec) -> tuple[str, tuple[Any, ...]]:
    """The statement creating or replacing an instance's request spec."""
    return _SPEC_UPSERT, (spec.instance_uuid, msgspec.json.encode(spec).decode())


async def spec_save(engine: Engine, spec: RequestSpec) -> None:
    await engine.execute(*spec_statement(spec))


async def spec_get(engine: Engine, uuid: str) -> RequestSpec:
    rows = await engine.fetch("SELECT spec FROM request_specs WHERE instance_uuid=?", (uuid,))
    if not rows:
        raise exception.NotFound(f"RequestSpec for instance {uuid} could not be found.")
    return msgspec.json.decode(rows[0][0], type=RequestSpec)


async def selections_record(engine: Engine, selections: Sequence[tuple[str, str, str]]) -> None:
    """Note ``(instance_uuid, host, node)``: where each build is being sent.

    aionova's stand-in for the placement allocations Nova's scheduler makes against the
    chosen node; a reschedule replaces the instance's entry. Deleting the instance
    removes it; none is kept for an instance already deleted.
    """
    now = now_text()
    await engine.batch(SELECTION_UPSERT_LIVE, [(u, h, n, now, u) for u, h, n in selections])


async def unclaimed_builds(
    engine: Engine, host: str, nodes: Sequence[str] | None
) -> list[Instance]:
    """BUILDING instances whose build was last sent to ``host`` (one of ``nodes``) and
    that no compute has claimed yet (``host`` still NULL)."""
    sql = (
        "SELECT i.* FROM instances i JOIN build_selections s ON s.instance_uuid=i.uuid"
        " WHERE s.host=? AND i.host IS NULL AND i.vm_state=? AND i.deleted=0"
    )
    params: list[Any] = [host, vm_states.BUILDING]
    if nodes is not None:
        clause, values = where_in("s.node", list(nodes))
        sql += f" AND {clause}"
        params += values
    rows = await engine.fetch(f"{sql} ORDER BY i.created_at", params)
    return [from_row(Instance, r, INSTANCE_JSON) for r in rows]


_START = (
    "UPDATE instances SET task_state=NULL, updated_at=? WHERE uuid=? AND deleted=0"
    " AND vm_state=? AND task_state=? AND host IS NULL RETURNING *"
)


async def start_build(engine: Engine, uuid: str, host: str) -> tuple[Row | None, list[Row]]:
    """A compute starts a build: ``scheduling`` → no task, only if the build is still
    waiting for a host and was last sent to ``host`` (or was never recorded as sent).

    Returns (the started row, None) or (None, the live row: what failed). A build sent
    to another host since (a reschedule, or a duplicate request scheduled again) raises
    ``InstanceUpdateConflict`` and changes nothing. The instance row is locked before
    the selection is read, so a claim (which locks the instance first, allocations.py)
    is either seen or sees this start.
    """

    async def job(tx: Tx) -> tuple[Row | None, list[Row]]:
        params = (now_text(), uuid, vm_states.BUILDING, task_states.SCHEDULING)
        rows = await tx.fetch(_START, params)
        if not rows:
            return None, await tx.fetch(_LIVE, (uuid,))
        sent = await tx.fetch("SELECT host FROM build_selections WHERE instance_uuid=?", (uuid,))
        if sent and sent[0][0] != host:
            raise exception.InstanceUpdateConflict(instance_uuid=uuid)  # rolls back
        return rows[0], []

    return await engine.transaction(job)
