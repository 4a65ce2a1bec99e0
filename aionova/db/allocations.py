"""Allocations: resources the scheduler claimed for an instance on a node (placement's
model), so schedulers that race never put more on a node than its limits allow.

A claim is one transaction that takes its locks first, then reads, then writes:

1. the instance row (a no-op UPDATE that checks its state): a build claims only while
   the instance still waits for a host (BUILDING, ``scheduling``, no host), an
   evacuation while it is ``rebuilding``; anything else is a duplicate or stale
   request (``UnexpectedTaskStateError``);
2. the node row: its ``generation`` is bumped, which serializes claims on one node
   (PostgreSQL waits on the row lock; SQLite writes one transaction at a time);
3. the node's allocations are summed (a new statement sees every claim committed
   before it got the lock) and tested against the limits, as the compute's claim
   tests them (``requested ≤ limit − used``, ``used`` = reserved + allocations; no
   limit, no test);
4. the allocation is written: a build's replaces the instance's others and records
   the build selection (where the build is sent); an evacuation's is added (the
   source keeps its own until it restarts, as in Nova).

A build that holds an allocation already while it still waits for a host was placed
by another delivery of the same request (at-least-once: a redelivered or repeated
``select_destinations``): that placement stands and is returned, so every delivery
sends the build where its selection says. Whatever puts a build back to waiting for a
new host (a reschedule, the conductor's recovery) gives its allocations back first.
"""

from __future__ import annotations

from typing import Any

from aionova import exception
from aionova.db.engine import Engine, Row, Tx
from aionova.db.requests import SELECTION_UPSERT_LIVE
from aionova.db.rows import now_text
from aionova.states import task_states, vm_states

Usage = tuple[int, int, int]
"""(memory MB, disk GB, vCPUs)."""

_LOCK_INSTANCE = (
    "UPDATE instances SET updated_at=updated_at WHERE uuid=? AND deleted=0"
    " RETURNING vm_state, task_state, host"
)
_LOCK_NODE = (
    "UPDATE compute_nodes SET generation=generation+1, updated_at=?"
    " WHERE id=? AND deleted=0 RETURNING *"
)
_USED = (
    "SELECT COALESCE(SUM(memory_mb), 0), COALESCE(SUM(disk_gb), 0), COALESCE(SUM(vcpus), 0)"
    " FROM allocations WHERE node_id=? AND instance_uuid<>?"
)
_UPSERT = (
    "INSERT INTO allocations"
    " (instance_uuid, node_id, host, node, memory_mb, disk_gb, vcpus, created_at)"
    " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (instance_uuid, node_id) DO UPDATE SET"
    " memory_mb=excluded.memory_mb, disk_gb=excluded.disk_gb, vcpus=excluded.vcpus"
)
_OTHERS = "DELETE FROM allocations WHERE instance_uuid=? AND node_id<>?"
_HELD = "SELECT host, node FROM allocations WHERE instance_uuid=?"
DELETE_ALL = "DELETE FROM allocations WHERE instance_uuid=?"
_DELETE_ON_HOST = "DELETE FROM allocations WHERE instance_uuid=? AND host=?"
_ORPHANS = (
    "DELETE FROM allocations WHERE instance_uuid IN (SELECT uuid FROM instances"
    " WHERE deleted=1 OR (vm_state=? AND host IS NULL))"
)
_BY_NODE = (
    "SELECT node_id, SUM(memory_mb), SUM(disk_gb), SUM(vcpus) FROM allocations GROUP BY node_id"
)


def _kind(row: Row | None, uuid: str) -> str:
    """'build' or 'move' (evacuation); a duplicate or stale request raises."""
    if row is None:
        raise exception.InstanceNotFound(instance_id=uuid)
    vm, task, host = row[0], row[1], row[2]
    if vm == vm_states.BUILDING and task == task_states.SCHEDULING and host is None:
        return "build"
    if task == task_states.REBUILDING and vm != vm_states.BUILDING:
        return "move"
    expected = [task_states.SCHEDULING, task_states.REBUILDING]
    raise exception.UnexpectedTaskStateError(instance_uuid=uuid, expected=expected, actual=task)


def _fits(node: Row, used: Usage, wanted: Usage, limits: dict[str, Any]) -> bool:
    """The compute's claim test against the node's allocations (no limit: no test)."""
    reserved = (node["reserved_memory_mb"], node["reserved_disk_gb"], node["reserved_vcpus"])
    keys = ("memory_mb", "disk_gb", "vcpu")
    for key, have, res, want in zip(keys, used, reserved, wanted, strict=True):
        limit = limits.get(key)
        if limit is not None and want > float(limit) - (have + res):
            return False
    return True


Held = tuple[str, str]
"""(host, node) of the allocation a build holds already."""


async def claim(
    engine: Engine, uuid: str, node_id: int, wanted: Usage, limits: dict[str, Any] | None
) -> tuple[bool, Usage, Held | None]:
    """Claim ``wanted`` on node ``node_id`` for instance ``uuid`` if it fits the limits.

    Returns (claimed, the node's allocations by others, None), or (True, (0, 0, 0),
    (host, node)) for a build placed already by another delivery of its request.
    ``ComputeHostNotFound`` for an unknown node; ``UnexpectedTaskStateError`` when the
    instance no longer waits for this (a duplicate request, or one a newer request
    superseded).
    """
    limits = limits or {}

    async def job(tx: Tx) -> tuple[bool, Usage, Held | None]:
        kind = _kind(next(iter(await tx.fetch(_LOCK_INSTANCE, (uuid,))), None), uuid)
        if kind == "build":
            held = await tx.fetch(_HELD, (uuid,))
            if held:
                return True, (0, 0, 0), (str(held[0][0]), str(held[0][1]))
        nodes = await tx.fetch(_LOCK_NODE, (now_text(), node_id))
        if not nodes:
            raise exception.ComputeHostNotFound(host=f"node {node_id}")
        node = nodes[0]
        used_row = (await tx.fetch(_USED, (node_id, uuid)))[0]
        used: Usage = (int(used_row[0]), int(used_row[1]), int(used_row[2]))
        if not _fits(node, used, wanted, limits):
            return False, used, None
        now, host, name = now_text(), node["host"], node["hypervisor_hostname"]
        if kind == "build":
            await tx.execute(_OTHERS, (uuid, node_id))
            await tx.execute(SELECTION_UPSERT_LIVE, (uuid, host, name, now, uuid))
        await tx.execute(_UPSERT, (uuid, node_id, host, name, *wanted, now))
        return True, used, None

    return await engine.transaction(job)


async def delete(engine: Engine, uuid: str, host: str | None) -> None:
    """Drop the instance's allocations (only those on ``host``'s nodes, if given)."""
    if host is None:
        await engine.execute(DELETE_ALL, (uuid,))
    else:
        await engine.execute(_DELETE_ON_HOST, (uuid, host))


async def delete_orphans(engine: Engine) -> int:
    """Drop allocations of deleted instances and of builds that failed without a host."""
    return await engine.execute(_ORPHANS, (vm_states.ERROR,))


async def usage_by_node(engine: Engine) -> dict[int, Usage]:
    """node id → what its allocations add up to."""
    rows = await engine.fetch(_BY_NODE)
    return {int(r[0]): (int(r[1] or 0), int(r[2] or 0), int(r[3] or 0)) for r in rows}
