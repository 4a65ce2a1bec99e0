"""``aionova db-sync`` (the schema, migrated to the latest version) and ``aionova seed``
(the starter flavors and images): what a deployment runs once, before its daemons."""

from __future__ import annotations

import argparse

from aionova.cmd.seed import FLAVORS, IMAGES, seed
from aionova.config import Config
from aionova.db import Database


async def run_db_sync(cfg: Config, args: argparse.Namespace) -> None:
    """Create or migrate the schema of ``[database] connection`` (idempotent)."""
    db = await Database(cfg.database.connection).open()  # opening migrates
    await db.close()
    print(f"aionova db-sync: the schema of {_redact(cfg.database.connection)} is up to date")


async def run_seed(cfg: Config, args: argparse.Namespace) -> None:
    """Add the starter catalogue unless the database has one (idempotent)."""
    db = await Database(cfg.database.connection).open()
    try:
        await seed(db)
        flavors, images = len(await db.flavor_get_all(None)), len(await db.image_get_all(None))
    finally:
        await db.close()
    print(
        f"aionova seed: {flavors} flavors, {images} images "
        f"(starter catalogue: {len(FLAVORS)} flavors, {len(IMAGES)} images)"
    )


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
