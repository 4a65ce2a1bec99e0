"""Queries for services, compute nodes, flavors, images, request specs and migrations."""

from __future__ import annotations

import sqlite3
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

import msgspec

from aionova import exception
from aionova.db.core import READ, Ctx, fetch_rows, fmt_time, from_row, to_db, utcnow
from aionova.objects import ComputeNode, Flavor, ImageMeta, Migration, RequestSpec, Service

if TYPE_CHECKING:
    from aionova.db.core import Connection

_NONE: frozenset[str] = frozenset()
_SERVICE_TIMES = frozenset({"last_seen_up", "created_at", "updated_at"})
_IMAGE_JSON = frozenset({"properties"})
_NODE_JSON = frozenset({"supported_instances"})


def _insert_sql(table: str, cols: tuple[str, ...]) -> str:
    """INSERT returning the new row (no SELECT after it)."""
    return (
        f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))}) RETURNING *"
    )


class HostQueries:
    """Mixin of ``Database``: everything that is not an instance."""

    db: Connection

    async def _update(self, table: str, row_id: int, updates: dict[str, Any]) -> Any:
        """UPDATE one live row and return it (RETURNING: one statement, one round trip)."""
        sets = ",".join(f"{k}=?" for k in updates)
        params = tuple(to_db(v) for v in updates.values())
        rows = await self.db.fetchall(
            f"UPDATE {table} SET {sets} WHERE id=? AND deleted=0 RETURNING *", (*params, row_id)
        )
        if not rows:
            raise exception.NotFound(f"{table} row {row_id} could not be found.")
        return rows[0]

    # -- services --------------------------------------------------------------
    async def service_create(self, ctxt: Ctx, service: Service) -> Service:
        """Insert a service row (created_at = now; last_seen_up stays empty)."""
        cols = (
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
        now = fmt_time(utcnow())
        row = await self.db.fetchone(
            _insert_sql("services", cols),
            (
                service.uuid or str(uuidlib.uuid4()),
                service.host,
                service.binary,
                service.topic,
                int(service.disabled),
                int(service.forced_down),
                service.version,
                now,
                now,
            ),
        )
        return from_row(Service, row, _NONE).bind(ctxt, self)

    async def service_get(self, ctxt: Ctx, service_id: int | None) -> Service:
        row = await self.db.fetchone(
            "SELECT * FROM services WHERE id=? AND deleted=0", (service_id,)
        )
        if row is None:
            raise exception.ServiceNotFound(service_id=service_id)
        return from_row(Service, row, _NONE).bind(ctxt, self)

    async def service_get_by_host_and_binary(
        self, ctxt: Ctx, host: str, binary: str
    ) -> Service | None:
        """The live row of a service, or None."""
        row = await self.db.fetchone(
            "SELECT * FROM services WHERE host=? AND binary=? AND deleted=0", (host, binary)
        )
        return None if row is None else from_row(Service, row, _NONE).bind(ctxt, self)

    async def service_get_all(
        self, ctxt: Ctx, binary: str | None = None, since: str | None = None
    ) -> list[Service]:
        """Services (of one binary), optionally only those changed at or after ``since``."""
        sql, params = "SELECT * FROM services WHERE deleted=0", []
        if binary is not None:
            sql += " AND binary=?"
            params.append(binary)
        if since is not None:
            sql += " AND updated_at>=?"
            params.append(since)
        rows = await self.db.fetchall(sql, tuple(params))
        return [from_row(Service, r, _NONE).bind(ctxt, self) for r in rows]

    async def service_update(
        self, ctxt: Ctx, service_id: int | None, updates: dict[str, Any]
    ) -> Service:
        """Write fields; a report_count change is a heartbeat and sets last_seen_up."""
        updates = {k: v for k, v in updates.items() if k not in ("id", "created_at")}
        now = utcnow()
        updates["updated_at"] = now
        if "report_count" in updates:
            updates["last_seen_up"] = now
        for key in _SERVICE_TIMES & updates.keys():
            if updates[key] is not None:
                updates[key] = fmt_time(updates[key])
        row = await self._update("services", service_id or 0, updates)
        return from_row(Service, row, _NONE).bind(ctxt, self)

    async def service_get_minimum_version(self, ctxt: Ctx, binary: str) -> int:
        """Lowest version over live, not forced-down services of a binary (0 if none)."""
        row = await self.db.fetchone(
            "SELECT MIN(version) FROM services WHERE binary=? AND deleted=0 AND forced_down=0",
            (binary,),
        )
        return row[0] or 0

    # -- compute nodes -----------------------------------------------------------
    async def compute_node_create(self, ctxt: Ctx, node: ComputeNode) -> ComputeNode:
        cols = tuple(c for c in ComputeNode.__struct_fields__ if c not in ("id", "updated_at"))
        now = fmt_time(utcnow())
        row = await self.db.fetchone(
            _insert_sql("compute_nodes", (*cols, "created_at", "updated_at")),
            (*(to_db(getattr(node, c)) for c in cols), now, now),
        )
        return from_row(ComputeNode, row, _NODE_JSON).bind(ctxt, self)

    async def compute_node_get(self, ctxt: Ctx, node_id: int | None) -> ComputeNode:
        row = await self.db.fetchone(
            "SELECT * FROM compute_nodes WHERE id=? AND deleted=0", (node_id,)
        )
        if row is None:
            raise exception.ComputeNodeNotFound(node=node_id, host="?")
        return from_row(ComputeNode, row, _NODE_JSON).bind(ctxt, self)

    async def compute_node_update(
        self, ctxt: Ctx, node_id: int, updates: dict[str, Any]
    ) -> ComputeNode:
        updates = {k: v for k, v in updates.items() if k not in ("id", "uuid", "updated_at")}
        updates["updated_at"] = fmt_time(utcnow())
        row = await self._update("compute_nodes", node_id, updates)
        return from_row(ComputeNode, row, _NODE_JSON).bind(ctxt, self)

    async def compute_node_get_all(self, ctxt: Ctx, since: str | None = None) -> list[ComputeNode]:
        """Every node, or only those updated at or after ``since``."""
        sql, params = "SELECT * FROM compute_nodes WHERE deleted=0", ()
        if since is not None:
            sql, params = sql + " AND updated_at>=?", (since,)
        rows = await self.db.fetchall(sql, params)
        return [from_row(ComputeNode, r, _NODE_JSON).bind(ctxt, self) for r in rows]

    async def compute_node_get_all_by_host(self, ctxt: Ctx, host: str) -> list[ComputeNode]:
        rows = await self.db.fetchall(
            "SELECT * FROM compute_nodes WHERE host=? AND deleted=0", (host,)
        )
        return [from_row(ComputeNode, r, _NODE_JSON).bind(ctxt, self) for r in rows]

    # -- flavors and images -------------------------------------------------------
    async def flavor_create(self, ctxt: Ctx, flavor: Flavor) -> Flavor:
        cols = ("flavorid", "name", "memory_mb", "vcpus", "root_gb", "ephemeral_gb", "swap")
        row = await self.db.fetchone(
            _insert_sql("flavors", cols), tuple(getattr(flavor, c) for c in cols)
        )
        return from_row(Flavor, row, _NONE)

    async def flavor_get_all(self, ctxt: Ctx) -> list[Flavor]:
        """Every flavor, smallest memory first (then by flavor id)."""
        rows = await self.db.fetchall("SELECT * FROM flavors ORDER BY memory_mb, flavorid")
        return [from_row(Flavor, r, _NONE) for r in rows]

    async def flavor_get_by_flavor_id(self, ctxt: Ctx, flavorid: str) -> Flavor:
        row = await self.db.fetchone("SELECT * FROM flavors WHERE flavorid=?", (flavorid,))
        if row is None:
            raise exception.FlavorNotFound(flavor_id=flavorid)
        return from_row(Flavor, row, _NONE)

    async def flavor_and_image_get(
        self, ctxt: Ctx, flavorid: str, image_id: str | None
    ) -> tuple[Flavor, ImageMeta | None]:
        """Both reads of a boot in one round trip (``FlavorNotFound`` first, then image)."""

        def job(conn: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
            flavor = fetch_rows(conn, "SELECT * FROM flavors WHERE flavorid=?", (flavorid,))
            if not flavor or image_id is None:
                return flavor, []
            return flavor, fetch_rows(conn, "SELECT * FROM images WHERE id=?", (image_id,))

        flavor_rows, image_rows = await self.db.run(job, READ)
        if not flavor_rows:
            raise exception.FlavorNotFound(flavor_id=flavorid)
        if image_id is not None and not image_rows:
            raise exception.ImageNotFound(image_id=image_id)
        image = from_row(ImageMeta, image_rows[0], _IMAGE_JSON) if image_rows else None
        return from_row(Flavor, flavor_rows[0], _NONE), image

    async def image_create(self, ctxt: Ctx, image: ImageMeta) -> ImageMeta:
        cols = ("id", "name", "status", "min_ram", "min_disk", "size", "properties")
        row = await self.db.fetchone(
            _insert_sql("images", cols), tuple(to_db(getattr(image, c)) for c in cols)
        )
        return from_row(ImageMeta, row, _IMAGE_JSON)

    async def image_get_all(self, ctxt: Ctx) -> list[ImageMeta]:
        """Every image, by name (then id)."""
        rows = await self.db.fetchall("SELECT * FROM images ORDER BY name, id")
        return [from_row(ImageMeta, r, _IMAGE_JSON) for r in rows]

    async def image_get(self, ctxt: Ctx, image_id: str) -> ImageMeta:
        row = await self.db.fetchone("SELECT * FROM images WHERE id=?", (image_id,))
        if row is None:
            raise exception.ImageNotFound(image_id=image_id)
        return from_row(ImageMeta, row, _IMAGE_JSON)

    # -- request specs and migrations ---------------------------------------------
    async def request_spec_save(self, ctxt: Ctx, spec: RequestSpec) -> None:
        """Create or replace the spec of an instance."""
        await self.db.execute(
            "INSERT OR REPLACE INTO request_specs (instance_uuid, spec) VALUES (?,?)",
            (spec.instance_uuid, msgspec.json.encode(spec).decode()),
        )

    async def request_spec_get(self, ctxt: Ctx, uuid: str) -> RequestSpec:
        row = await self.db.fetchone(
            "SELECT spec FROM request_specs WHERE instance_uuid=?", (uuid,)
        )
        if row is None:
            raise exception.NotFound(f"RequestSpec for instance {uuid} could not be found.")
        return msgspec.json.decode(row[0], type=RequestSpec).bind(ctxt, self)

    async def migration_create(self, ctxt: Ctx, migration: Migration) -> Migration:
        cols = tuple(c for c in Migration.__struct_fields__ if c not in ("id",))
        now = utcnow()
        migration.created_at = migration.updated_at = now
        row = await self.db.fetchone(
            _insert_sql("migrations", cols), tuple(to_db(getattr(migration, c)) for c in cols)
        )
        return from_row(Migration, row, _NONE).bind(ctxt, self)

    async def migration_get(self, ctxt: Ctx, migration_id: int | None) -> Migration:
        row = await self.db.fetchone("SELECT * FROM migrations WHERE id=?", (migration_id,))
        if row is None:
            raise exception.MigrationNotFound(migration_id=migration_id)
        return from_row(Migration, row, _NONE).bind(ctxt, self)

    async def migration_update(
        self, ctxt: Ctx, migration_id: int, updates: dict[str, Any]
    ) -> Migration:
        updates = {k: v for k, v in updates.items() if k not in ("id", "uuid", "created_at")}
        updates["updated_at"] = utcnow()
        row = await self._update("migrations", migration_id, updates)
        return from_row(Migration, row, _NONE).bind(ctxt, self)
