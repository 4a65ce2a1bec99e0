"""``aionova db-sync`` and ``aionova seed``: what a deployment runs once, before its
services (no all-in-one needed). Both are idempotent."""

from __future__ import annotations

import argparse

from aionova.cmd.seed import seed as seed_catalogue
from aionova.config import Config
from aionova.db import Database
from aionova.db.connection import redact
from aionova.db.schema import LATEST, current_version


async def db_sync(cfg: Config, args: argparse.Namespace) -> None:
    """Create the schema, or bring it to the latest migration (nova-manage db sync)."""
    async with Database(cfg.database.connection, cfg.database) as db:
        version = await current_version(db.engine)
    where = redact(str(cfg.database.connection))
    print(f"aionova db-sync: {where} is at schema version {version} (latest {LATEST})")


async def seed(cfg: Config, args: argparse.Namespace) -> None:
    """The starter flavors (m1.*) and images, unless the catalogue has them."""
    async with Database(cfg.database.connection, cfg.database) as db:
        await seed_catalogue(db)
        flavors, images = len(await db.flavor_get_all(None)), len(await db.image_get_all(None))
    print(f"aionova seed: {flavors} flavors, {images} images")
