"""The SQLite engine: one connection on a thread of its own, calls grouped into batches.

Every call is a *job* run on the database thread, so a call costs one thread round
trip however many statements it runs. Jobs submitted while a batch is on the thread
go together in the next batch: one hop, one ``BEGIN IMMEDIATE … COMMIT`` (group
commit); each job stays atomic (see ``_run_batch``). Fewer hops also means fewer GIL
hand-offs with the event loop (sqlite3 releases the GIL around every step).

Pragmas: WAL with ``synchronous=NORMAL``. For this embedded control-plane database
that is durable across process crashes and consistent across power loss (a power
cut may lose the last commits, never corrupt the file), and it keeps fsync off the
commit path; ``busy_timeout`` lets other processes sharing the file (split
api/conductor/scheduler) wait for locks.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aionova.db.engine import Job, Params, Row, run_to_end
from aionova.db.errors import DBDeadlock, DBDuplicateEntry, DBError
from aionova.db.schema import MIGRATIONS

LOG = logging.getLogger(__name__)
T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]
"""What runs on the database thread against the raw connection."""

# How a unit of work touches the database: it decides the transaction around it.
READ, STATEMENT, WRITE = 0, 1, 2
"""Only reads; exactly one writing statement (atomic by itself); several statements."""


def _rows(conn: sqlite3.Connection, sql: str, params: Params) -> list[Row]:
    cur = conn.execute(sql, params)
    try:
        rows: list[Row] = cur.fetchall()
        return rows
    finally:
        cur.close()


def _rowcount(conn: sqlite3.Connection, sql: str, params: Params) -> int:
    cur = conn.execute(sql, params)
    try:
        return cur.rowcount
    finally:
        cur.close()


class _ThreadTx:
    """``Tx`` on the database thread: each method completes without suspending."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return _rows(self.conn, sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return _rowcount(self.conn, sql, params)

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self.conn.executemany(sql, rows).close()


def _run_batch(conn: sqlite3.Connection, work: list[tuple[Work, int]]) -> list[tuple[bool, Any]]:
    """Run units in order; ``(ok, value or exception)`` per unit.

    A batch with writes is one ``BEGIN IMMEDIATE … COMMIT``. Each unit stays atomic:
    a multi-statement (WRITE) unit runs in its own SAVEPOINT and a failing one undoes
    only its own statements; a single statement needs none (SQLite undoes a failed
    statement itself). A read-only batch runs in autocommit.
    """
    writes = any(kind != READ for _, kind in work)
    if writes:
        conn.execute("BEGIN IMMEDIATE")
    results: list[tuple[bool, Any]] = []
    for unit, kind in work:
        savepoint = writes and kind == WRITE
        if savepoint:
            conn.execute("SAVEPOINT job")
        try:
            value = unit(conn)
        except Exception as error:
            exc = translate(error)
            if writes and not conn.in_transaction:
                # SQLite rolled the whole transaction back (I/O error, full disk …):
                # what earlier units did is gone too, so they fail with this error.
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
            return [(False, translate(exc))] * len(work)
    return results


def translate(exc: Exception) -> Exception:
    """A sqlite3 error as the database error it means (others are left as they are)."""
    if not isinstance(exc, sqlite3.Error):
        return exc
    text = str(exc)
    out: DBError
    if isinstance(exc, sqlite3.IntegrityError) and ("UNIQUE" in text or "PRIMARY KEY" in text):
        out = DBDuplicateEntry(text)
    elif isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        out = DBDeadlock(text)
    else:
        out = DBError(f"{type(exc).__name__}: {text}")
    out.__cause__ = exc
    return out


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL").close()
    conn.execute("PRAGMA synchronous=NORMAL").close()
    conn.execute("PRAGMA busy_timeout=5000").close()
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    current = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
    for version, script in MIGRATIONS:
        if version > current:
            conn.executescript(
                f"BEGIN; {script}; INSERT INTO schema_version VALUES ({version}); COMMIT;"
            )


class _Worker:
    """The database thread: runs submitted callables in order, settles their futures."""

    def __init__(self, name: str) -> None:
        self._inbox: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, func: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inbox.put((func, future))
        return future

    def stop(self) -> None:
        self._inbox.put(None)

    def _loop(self) -> None:
        while (item := self._inbox.get()) is not None:
            func, future = item
            try:
                ok, value = True, func()
            except BaseException as exc:  # handed to the caller, raised there
                ok, value = False, exc
            try:
                future.get_loop().call_soon_threadsafe(_settle, future, ok, value)
            except RuntimeError:
                LOG.warning("database result dropped: its event loop is closed")


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class SQLiteEngine:
    """``Engine`` on one SQLite file, the schema migrated to the latest version at open."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._worker: _Worker | None = None
        self._pending: list[tuple[Work, int, asyncio.Future[Any]]] = []
        self._pump: asyncio.Task[None] | None = None

    async def open(self) -> None:
        worker = _Worker(f"aionova-db {Path(self.path).name}")
        try:
            conn = await worker.submit(lambda: _connect(self.path))
            await worker.submit(lambda: _migrate(conn))
        except sqlite3.Error as exc:
            worker.stop()
            raise DBError(f"SQLite database {self.path}: {exc}") from exc
        except BaseException:
            worker.stop()
            raise
        self._worker, self._conn = worker, conn

    async def close(self) -> None:
        if self._pump is not None:
            await asyncio.shield(self._pump)
        worker, conn = self._worker, self._conn
        self._worker = self._conn = None
        if worker is not None and conn is not None:
            try:
                await worker.submit(conn.close)
            finally:
                worker.stop()

    # -- Engine ---------------------------------------------------------------------
    def fetch(self, sql: str, params: Params = ()) -> Awaitable[list[Row]]:
        return self.submit(lambda c: _rows(c, sql, params), _kind(sql))

    def execute(self, sql: str, params: Params = ()) -> Awaitable[int]:
        return self.submit(lambda c: _rowcount(c, sql, params), _kind(sql))

    def batch(self, sql: str, rows: Sequence[Params]) -> Awaitable[None]:
        return self.submit(lambda c: c.executemany(sql, rows).close(), WRITE)

    def transaction(
        self, job: Job[T], *, readonly: bool = False, one_write: bool = False
    ) -> Awaitable[T]:
        kind = READ if readonly else STATEMENT if one_write else WRITE
        return self.submit(lambda c: run_to_end(job(_ThreadTx(c))), kind)

    # -- batching -------------------------------------------------------------------
    def submit(self, work: Work, kind: int = WRITE) -> Awaitable[Any]:
        """Queue ``work`` for the next batch; it runs atomically on the database thread."""
        if self._conn is None:
            raise RuntimeError(f"database {self.path} is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((work, kind, future))
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._drain())
        return future

    async def _drain(self) -> None:
        """Send pending work to the thread, one batch per round trip, until none is left."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._run(batch)
        finally:
            self._pump = None

    async def _run(self, batch: list[tuple[Work, int, asyncio.Future[Any]]]) -> None:
        conn, worker = self._conn, self._worker
        assert conn is not None and worker is not None
        work = [(unit, kind) for unit, kind, _ in batch]
        try:
            results = await worker.submit(lambda: _run_batch(conn, work))
        except asyncio.CancelledError:
            for _, _, future in (*batch, *self._pending):
                future.cancel()
            self._pending = []
            raise
        except Exception as exc:  # the connection failed (e.g. closed, locked)
            results = [(False, translate(exc))] * len(batch)
        for (_, _, future), (ok, value) in zip(batch, results, strict=True):
            _settle(future, ok, value)


def _kind(sql: str) -> int:
    """READ for a SELECT, else STATEMENT."""
    return READ if sql.lstrip()[:6].upper() == "SELECT" else STATEMENT
