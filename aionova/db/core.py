"""The connection and the row <-> object conversions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from aionova.context import RequestContext
from aionova.db.schema import MIGRATIONS
from aionova.objects.base import NovaObject

_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def fmt_time(value: dt.datetime | str) -> str:
    """One lexically sortable text form for every stored timestamp."""
    if isinstance(value, str):
        value = msgspec.convert(value, dt.datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime(_FMT)


def to_db(value: Any, *, is_time: bool = False) -> Any:
    """A Python value as an SQLite column value."""
    if value is None:
        return None
    if is_time or isinstance(value, dt.datetime):
        return fmt_time(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (NovaObject, dict, list)):
        return msgspec.json.encode(value).decode()
    return value


def from_row(cls: type[NovaObject], row: Any, json_fields: frozenset[str]) -> Any:
    """An object from a row; JSON columns decoded, unknown columns ignored."""
    data = dict(row)
    for name in json_fields:
        raw = data.get(name)
        if isinstance(raw, str):
            data[name] = msgspec.json.decode(raw)
    return msgspec.convert(data, cls, strict=False)


class Connection:
    """One aiosqlite connection (autocommit, WAL) with the schema migrated to LATEST."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn
        await self._migrate()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def _migrate(self) -> None:
        conn = self.conn
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        async with conn.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        current = row[0] or 0
        for version, script in MIGRATIONS:
            if version <= current:
                continue
            await conn.executescript(
                f"BEGIN; {script}; INSERT INTO schema_version VALUES ({version}); COMMIT;"
            )

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        async with self.conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[int, int | None]:
        """Run one statement; returns (rowcount, lastrowid)."""
        async with self.conn.execute(sql, params) as cur:
            return cur.rowcount, cur.lastrowid


Ctx = RequestContext | None
