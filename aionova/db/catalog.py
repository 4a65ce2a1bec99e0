"""Flavors and images."""

from __future__ import annotations

from aionova import exception
from aionova.db.engine import Engine, Row, Tx
from aionova.db.errors import DBDuplicateEntry
from aionova.db.rows import from_row, insert_sql, to_db
from aionova.objects import Flavor, ImageMeta

_IMAGE_JSON = frozenset({"properties"})
_FLAVOR_COLS = (
    "flavorid",
    "name",
    "memory_mb",
    "vcpus",
    "root_gb",
    "ephemeral_gb",
    "swap",
    "description",
)
_IMAGE_COLS = ("id", "name", "status", "min_ram", "min_disk", "size", "properties")
_FLAVOR = "SELECT * FROM flavors WHERE flavorid=?"
_IMAGE = "SELECT * FROM images WHERE id=?"


def _image(row: Row) -> ImageMeta:
    return from_row(ImageMeta, row, _IMAGE_JSON)


async def flavor_create(engine: Engine, flavor: Flavor) -> Flavor:
    """Insert a flavor; ``FlavorExists`` when its id or name is taken."""
    try:
        rows = await engine.fetch(
            insert_sql("flavors", _FLAVOR_COLS), tuple(getattr(flavor, c) for c in _FLAVOR_COLS)
        )
    except DBDuplicateEntry:
        if await engine.fetch(_FLAVOR, (flavor.flavorid,)):
            raise exception.FlavorIdExists(flavor_id=flavor.flavorid) from None
        raise exception.FlavorExists(name=flavor.name) from None
    return from_row(Flavor, rows[0])


async def flavor_delete(engine: Engine, flavorid: str) -> None:
    """Remove a flavor (instances keep their copy); ``FlavorNotFound``."""
    if not await engine.execute("DELETE FROM flavors WHERE flavorid=?", (flavorid,)):
        raise exception.FlavorNotFound(flavor_id=flavorid)


async def flavor_get_all(engine: Engine) -> list[Flavor]:
    """Every flavor, smallest memory first (then by flavor id)."""
    rows = await engine.fetch("SELECT * FROM flavors ORDER BY memory_mb, flavorid")
    return [from_row(Flavor, r) for r in rows]


async def flavor_get(engine: Engine, flavorid: str) -> Flavor:
    rows = await engine.fetch(_FLAVOR, (flavorid,))
    if not rows:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    return from_row(Flavor, rows[0])


async def flavor_and_image_get(
    engine: Engine, flavorid: str, image_id: str | None
) -> tuple[Flavor, ImageMeta | None]:
    """Both reads of a boot in one round trip (``FlavorNotFound`` first, then image)."""

    async def job(tx: Tx) -> tuple[list[Row], list[Row]]:
        flavor = await tx.fetch(_FLAVOR, (flavorid,))
        if not flavor or image_id is None:
            return flavor, []
        return flavor, await tx.fetch(_IMAGE, (image_id,))

    flavor_rows, image_rows = await engine.transaction(job, readonly=True)
    if not flavor_rows:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    if image_id is not None and not image_rows:
        raise exception.ImageNotFound(image_id=image_id)
    image = _image(image_rows[0]) if image_rows else None
    return from_row(Flavor, flavor_rows[0]), image


async def image_create(engine: Engine, image: ImageMeta) -> ImageMeta:
    rows = await engine.fetch(
        insert_sql("images", _IMAGE_COLS), tuple(to_db(getattr(image, c)) for c in _IMAGE_COLS)
    )
    return _image(rows[0])


async def image_get_all(engine: Engine) -> list[ImageMeta]:
    """Every image, by name (then id)."""
    return [_image(r) for r in await engine.fetch("SELECT * FROM images ORDER BY name, id")]


async def image_get(engine: Engine, image_id: str) -> ImageMeta:
    rows = await engine.fetch(_IMAGE, (image_id,))
    if not rows:
        raise exception.ImageNotFound(image_id=image_id)
    return _image(rows[0])


async def counts(engine: Engine) -> tuple[int, int]:
    """(flavors, images) in the catalogue."""
    rows = await engine.fetch(
        "SELECT (SELECT COUNT(*) FROM flavors), (SELECT COUNT(*) FROM images)"
    )
    return int(rows[0][0]), int(rows[0][1])
