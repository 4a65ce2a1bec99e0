"""Storage: SQLite through aiosqlite, schema migrations, compare-and-swap saves."""

from aionova.db.api import Database

__all__ = ["Database"]
