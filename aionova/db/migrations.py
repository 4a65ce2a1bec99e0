"""Migration records (evacuations): not the schema's migrations, which are in schema.py."""

from __future__ import annotations

from typing import Any

from aionova import exception
from aionova.db.engine import Engine
from aionova.db.rows import from_row, insert_sql, to_db, update_sql, utcnow
from aionova.objects import Migration

_COLS = tuple(c for c in Migration.__struct_fields__ if c != "id")
_FILTERS = frozenset(
    {"instance_uuid", "source_compute", "dest_compute", "status", "migration_type"}
)


async def create(engine: Engine, migration: Migration) -> Migration:
    migration.created_at = migration.updated_at = utcnow()
    rows = await engine.fetch(
        insert_sql("migrations", _COLS), tuple(to_db(getattr(migration, c)) for c in _COLS)
    )
    return from_row(Migration, rows[0])


async def get(engine: Engine, migration_id: int | None) -> Migration:
    rows = await engine.fetch("SELECT * FROM migrations WHERE id=?", (migration_id,))
    if not rows:
        raise exception.MigrationNotFound(migration_id=migration_id)
    return from_row(Migration, rows[0])


async def update(engine: Engine, migration_id: int, updates: dict[str, Any]) -> Migration:
    updates = {k: v for k, v in updates.items() if k not in ("id", "uuid", "created_at")}
    updates["updated_at"] = utcnow()
    rows = await engine.fetch(
        update_sql("migrations", list(updates), "id=? AND deleted=0"),
        (*(to_db(v) for v in updates.values()), migration_id),
    )
    if not rows:
        raise exception.NotFound(f"migrations row {migration_id} could not be found.")
    return from_row(Migration, rows[0])


async def get_all(engine: Engine, filters: dict[str, Any] | None) -> list[Migration]:
    """Migrations matching equality filters; a list value means ``IN``; oldest first.

    Filters: instance_uuid, source_compute, dest_compute, status, migration_type,
    and ``host`` (source or destination).
    """
    clauses, params = ["deleted=0"], []
    for key, value in (filters or {}).items():
        if key == "host":
            clauses.append("(source_compute=? OR dest_compute=?)")
            params += [value, value]
            continue
        if key not in _FILTERS:
            raise exception.InvalidRequest(reason=f"unknown migration filter {key}")
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        clauses.append(f"{key} IN ({','.join('?' * len(values))})")
        params += values
    rows = await engine.fetch(
        f"SELECT * FROM migrations WHERE {' AND '.join(clauses)} ORDER BY id", params
    )
    return [from_row(Migration, r) for r in rows]
