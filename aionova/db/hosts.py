"""Services and compute nodes."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from aionova import exception
from aionova.db.engine import Engine, Row
from aionova.db.rows import fmt_time, from_row, insert_sql, now_text, to_db, update_sql, utcnow
from aionova.objects import ComputeNode, Service

_SERVICE_TIMES = frozenset({"last_seen_up", "created_at", "updated_at"})
_NODE_JSON = frozenset({"supported_instances"})
_SERVICE_COLS = (
    "uuid",
    "host",
    "binary",
    "topic",
    "disabled",
    "forced_down",
    "version",
    "created_at",
    "updated_at",
)
_NODE_COLS = tuple(c for c in ComputeNode.__struct_fields__ if c not in ("id", "updated_at"))


async def _update(engine: Engine, table: str, row_id: int, updates: dict[str, Any]) -> Row:
    """UPDATE one live row and return it (RETURNING: one statement, one round trip)."""
    rows = await engine.fetch(
        update_sql(table, list(updates), "id=? AND deleted=0"),
        (*(to_db(v) for v in updates.values()), row_id),
    )
    if not rows:
        raise exception.NotFound(f"{table} row {row_id} could not be found.")
    return rows[0]


def _service(row: Row) -> Service:
    return from_row(Service, row)


def _node(row: Row) -> ComputeNode:
    return from_row(ComputeNode, row, _NODE_JSON)


# -- services ---------------------------------------------------------------------------
async def service_create(engine: Engine, service: Service) -> Service:
    """Insert a service row (created_at = now; last_seen_up stays empty)."""
    now = now_text()
    values = (
        service.uuid or str(uuidlib.uuid4()),
        service.host,
        service.binary,
        service.topic,
        int(service.disabled),
        int(service.forced_down),
        service.version,
        now,
        now,
    )
    return _service((await engine.fetch(insert_sql("services", _SERVICE_COLS), values))[0])


async def service_get(engine: Engine, service_id: int | None) -> Service:
    rows = await engine.fetch("SELECT * FROM services WHERE id=? AND deleted=0", (service_id,))
    if not rows:
        raise exception.ServiceNotFound(service_id=service_id)
    return _service(rows[0])


async def service_get_by_uuid(engine: Engine, uuid: str) -> Service:
    rows = await engine.fetch("SELECT * FROM services WHERE uuid=? AND deleted=0", (uuid,))
    if not rows:
        raise exception.ServiceNotFound(service_id=uuid)
    return _service(rows[0])


async def service_get_by_host_and_binary(engine: Engine, host: str, binary: str) -> Service | None:
    """The live row of a service, or None."""
    rows = await engine.fetch(
        'SELECT * FROM services WHERE host=? AND "binary"=? AND deleted=0', (host, binary)
    )
    return _service(rows[0]) if rows else None


async def service_get_all(engine: Engine, binary: str | None, since: str | None) -> list[Service]:
    """Services (of one binary), optionally only those changed at or after ``since``."""
    sql, params = "SELECT * FROM services WHERE deleted=0", []
    if binary is not None:
        sql += ' AND "binary"=?'
        params.append(binary)
    if since is not None:
        sql += " AND updated_at>=?"
        params.append(since)
    return [_service(r) for r in await engine.fetch(sql, params)]


async def service_update(engine: Engine, service_id: int, updates: dict[str, Any]) -> Service:
    """Write fields; a report_count change is a heartbeat and sets last_seen_up."""
    updates = {k: v for k, v in updates.items() if k not in ("id", "created_at")}
    now = utcnow()
    updates["updated_at"] = now
    if "report_count" in updates:
        updates["last_seen_up"] = now
    for key in _SERVICE_TIMES & updates.keys():
        if updates[key] is not None:
            updates[key] = fmt_time(updates[key])
    return _service(await _update(engine, "services", service_id, updates))


async def service_get_minimum_version(engine: Engine, binary: str) -> int:
    """Lowest version over live, not forced-down services of a binary (0 if none)."""
    rows = await engine.fetch(
        'SELECT MIN(version) FROM services WHERE "binary"=? AND deleted=0 AND forced_down=0',
        (binary,),
    )
    return int(rows[0][0] or 0)


# -- compute nodes ----------------------------------------------------------------------
async def node_create(engine: Engine, node: ComputeNode) -> ComputeNode:
    now = now_text()
    rows = await engine.fetch(
        insert_sql("compute_nodes", (*_NODE_COLS, "created_at", "updated_at")),
        (*(to_db(getattr(node, c)) for c in _NODE_COLS), now, now),
    )
    return _node(rows[0])


async def node_get(engine: Engine, node_id: int | None) -> ComputeNode:
    rows = await engine.fetch("SELECT * FROM compute_nodes WHERE id=? AND deleted=0", (node_id,))
    if not rows:
        raise exception.ComputeNodeNotFound(node=node_id, host="?")
    return _node(rows[0])


async def node_update(engine: Engine, node_id: int, updates: dict[str, Any]) -> ComputeNode:
    updates = {k: v for k, v in updates.items() if k not in ("id", "uuid", "updated_at")}
    updates["updated_at"] = now_text()
    return _node(await _update(engine, "compute_nodes", node_id, updates))


async def node_get_all(engine: Engine, since: str | None) -> list[ComputeNode]:
    """Every node, or only those updated at or after ``since``."""
    sql = "SELECT * FROM compute_nodes WHERE deleted=0"
    params: tuple[str, ...] = ()
    if since is not None:
        sql, params = sql + " AND updated_at>=?", (since,)
    return [_node(r) for r in await engine.fetch(sql, params)]


async def node_get_all_by_host(engine: Engine, host: str) -> list[ComputeNode]:
    rows = await engine.fetch("SELECT * FROM compute_nodes WHERE host=? AND deleted=0", (host,))
    return [_node(r) for r in rows]
