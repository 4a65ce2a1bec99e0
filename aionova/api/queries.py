"""Read-only catalogue queries the Database does not offer (flavor and image lists)."""

from __future__ import annotations

from aionova.db import Database
from aionova.db.core import from_row
from aionova.objects import Flavor, ImageMeta

_NONE: frozenset[str] = frozenset()


async def flavors(db: Database) -> list[Flavor]:
    rows = await db.db.fetchall("SELECT * FROM flavors ORDER BY memory_mb, flavorid")
    return [from_row(Flavor, r, _NONE) for r in rows]


async def images(db: Database) -> list[ImageMeta]:
    rows = await db.db.fetchall("SELECT * FROM images ORDER BY name, id")
    return [from_row(ImageMeta, r, frozenset({"properties"})) for r in rows]


async def instance_count_by_host(db: Database) -> dict[str, list[tuple[str, str]]]:
    """host → [(uuid, name)] of live instances."""
    rows = await db.db.fetchall(
        "SELECT host, uuid, display_name FROM instances WHERE deleted=0 AND host IS NOT NULL"
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for host, uuid, name in rows:
        out.setdefault(host, []).append((uuid, name or ""))
    return out
