"""The connection and the row <-> object conversions."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
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
    """One lexically sortable text form for every stored timestamp.

    ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (what ``strftime(_FMT)`` gives, built with the
    faster ``isoformat``).
    """
    if isinstance(value, str):
        value = msgspec.convert(value, dt.datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    elif value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


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


Job = Callable[[sqlite3.Connection], Any]
"""Work run on the database thread against the raw sqlite3 connection."""


def fetch_rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """All rows of one statement (cursor closed), on the database thread."""
    cur = conn.execute(sql, params)
    try:
        return cur.fetchall()
    finally:
        cur.close()


# How a job touches the database: it decides the transaction work around it.
READ, STATEMENT, WRITE = 0, 1, 2
"""Job kinds: only reads; one writing statement (atomic by itself); several statements."""


def _run_batch(conn: sqlite3.Connection, jobs: list[tuple[Job, int]]) -> list[tuple[bool, Any]]:
    """Run jobs in order on the database thread; ``(ok, value or exception)`` per job.

    A batch with writes is one ``BEGIN IMMEDIATE … COMMIT`` (group commit). Each
    job stays atomic: a multi-statement (WRITE) job runs in its own SAVEPOINT and a
    failing one undoes only its own statements; a single statement needs none
    (SQLite undoes a failed statement itself). A read-only batch runs in autocommit.

    Fewer statements here also means fewer GIL hand-offs with the event loop
    (sqlite3 releases the GIL around every step).
    """
    writes = any(kind != READ for _, kind in jobs)
    if writes:
        conn.execute("BEGIN IMMEDIATE")
    results: list[tuple[bool, Any]] = []
    for job, kind in jobs:
        savepoint = writes and kind == WRITE
        if savepoint:
            conn.execute("SAVEPOINT job")
        try:
            value = job(conn)
        except Exception as exc:
            if writes and not conn.in_transaction:
                # SQLite rolled the whole transaction back (I/O error, full disk …):
                # what earlier jobs did is gone too, so they fail with this error.
                results = [(False, exc)] * len(results)
                conn.execute("BEGIN IMMEDIATE")
            elif savepoint:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
            results.append((False, exc))
        else:
            if savepoint:
                conn.execute("RELEASE job")
            results.append((True, value))
    if writes:
        try:
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(False, exc)] * len(jobs)
    return results


class Connection:
    """One SQLite connection on aiosqlite's thread, with the schema migrated to LATEST.

    Every call is one *job*: a function run on the database thread that
    executes its statements and fetches their rows there, so a call costs one
    thread round trip however many statements it runs. Jobs submitted while a
    batch is on the thread go together in the next batch (one hop, one commit;
    see ``_run_batch``); each job stays atomic.

    Pragmas: WAL with ``synchronous=NORMAL``. For this embedded control-plane
    database that is durable across process crashes and consistent across
    power loss (a power cut may lose the last commits, never corrupt the file),
    and it keeps fsync off the commit path; ``busy_timeout`` lets other
    processes sharing the file (split api/conductor/scheduler) wait for locks.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None
        self._pending: list[tuple[Job, int, asyncio.Future[Any]]] = []
        self._pump: asyncio.Task[None] | None = None

    async def open(self) -> None:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=5000")
        self._conn = conn
        await self._migrate()

    async def close(self) -> None:
        if self._pump is not None:
            await asyncio.shield(self._pump)
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

    # -- jobs -------------------------------------------------------------------
    def run(self, job: Job, kind: int = WRITE) -> Awaitable[Any]:
        """Run ``job(sqlite3_connection)`` on the database thread, atomically; its result.

        ``kind`` is WRITE (any statements), STATEMENT (the job runs exactly one
        statement) or READ (it only reads; a batch of reads needs no transaction).
        """
        conn = self.conn
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((job, kind, future))
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._drain(conn))
        return future

    async def _drain(self, conn: aiosqlite.Connection) -> None:
        """Send pending jobs to the thread, one batch per round trip, until none is left."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                jobs = [(job, kind) for job, kind, _ in batch]
                try:
                    # aiosqlite has no public "run this callable"; _execute is its queue.
                    results = await conn._execute(_run_batch, conn._conn, jobs)
                except asyncio.CancelledError:
                    for _, _, future in (*batch, *self._pending):
                        future.cancel()
                    self._pending = []
                    raise
                except Exception as exc:  # the connection failed (e.g. closed, locked)
                    results = [(False, exc)] * len(batch)
                for (_, _, future), (ok, value) in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._pump = None

    def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> Awaitable[list[Any]]:
        """Every row of one statement (a read unless it writes, e.g. ``… RETURNING``)."""
        return self.run(lambda c: fetch_rows(c, sql, params), _kind(sql))

    async def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first row of one statement, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Awaitable[tuple[int, int | None]]:
        """Run one statement; returns (rowcount, lastrowid)."""

        def job(conn: sqlite3.Connection) -> tuple[int, int | None]:
            cur = conn.execute(sql, params)
            try:
                return cur.rowcount, cur.lastrowid
            finally:
                cur.close()

        return self.run(job, _kind(sql))


def _kind(sql: str) -> int:
    """READ for a SELECT, else STATEMENT."""
    return READ if sql.lstrip()[:6].upper() == "SELECT" else STATEMENT


Ctx = RequestContext | None
