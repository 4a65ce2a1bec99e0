"""``[database] connection`` → the engine that serves it."""

from __future__ import annotations

from pathlib import Path

from aionova import exception
from aionova.config import DatabaseOpts
from aionova.db.engine import Engine
from aionova.db.sqlite import SQLiteEngine
from aionova.db.urls import redact

__all__ = ["engine_for", "redact"]

SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+asyncpg")
HELP = "use sqlite:///PATH (or a bare path) or postgresql://user:password@host:port/database"


def engine_for(connection: str | Path, opts: DatabaseOpts | None = None) -> Engine:
    """``sqlite:///PATH`` or a bare path: SQLite; ``postgresql://…``: PostgreSQL.

    ``InvalidConfiguration`` for any other scheme, or a URL without its parts.
    """
    opts = opts or DatabaseOpts()
    text = str(connection)
    if "://" not in text:
        return SQLiteEngine(text)
    scheme, _, rest = text.partition("://")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise exception.InvalidConfiguration(reason=f"database URL {text!r}: {HELP}")
        return SQLiteEngine(rest[1:])
    if scheme in SCHEMES:
        from aionova.db.postgres import PostgresEngine  # asyncpg only when asked for

        if not rest.split("/", 1)[0]:
            raise exception.InvalidConfiguration(
                reason=f"database URL {scheme}://…: no host given; {HELP}"
            )
        return PostgresEngine(text, pool_size=opts.max_pool_size)
    raise exception.InvalidConfiguration(
        reason=f"unsupported database URL scheme {scheme!r}: {HELP}"
    )
