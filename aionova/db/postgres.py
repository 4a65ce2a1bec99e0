"""The PostgreSQL engine: an asyncpg connection pool running the same queries as SQLite.

``?`` placeholders become ``$N`` (once per SQL text, cached); a job runs in one
transaction on one pooled connection, its ``tx`` awaiting the server. A lock or
serialization conflict (40P01, 40001) rolls the job back and runs it again, a few
times. Every asyncpg error leaves as one of ``aionova.db.errors``: a server that is
down or restarting is a ``DBConnectionError`` at once (the pool reconnects on the
next call), so the API answers 503 and services retry (retrying.py).

At ``open`` the schema is migrated under an advisory lock, so services starting
together against one database migrate it once. The URL may carry server settings
as query parameters (``?search_path=NAME``: tests give each database a schema).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import asyncpg

from aionova.db import errors
from aionova.db.dialect import postgres_ddl, statements
from aionova.db.engine import Job, Params, Row, numbered_placeholders
from aionova.db.schema import MIGRATIONS
from aionova.db.urls import redact

LOG = logging.getLogger(__name__)
T = TypeVar("T")
CONFLICT_RETRIES = 5
_CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,  # 08xxx, and a connection that no longer exists
    asyncpg.InterfaceError,  # "connection is closed", pool closing …
    asyncpg.exceptions.OperatorInterventionError,  # 57P01-03: shut down, cannot connect now
    asyncpg.exceptions.TooManyConnectionsError,
)
_CONFLICTS = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)
_DRIVER_ERRORS = (asyncpg.PostgresError, *_CONNECTION_ERRORS)
"""What the driver (or the socket under it) raises; a job's own exceptions pass as they are."""


def translate(exc: BaseException, url: str) -> errors.DBError:
    """An asyncpg / socket error as the database error it means."""
    if isinstance(exc, _CONFLICTS):
        return errors.DBDeadlock(str(exc))
    if isinstance(exc, asyncpg.exceptions.UniqueViolationError):
        return errors.DBDuplicateEntry(str(exc))
    if isinstance(exc, asyncpg.exceptions.DataError):
        return errors.DBDataError(str(exc))
    if isinstance(exc, _CONNECTION_ERRORS):
        reason = str(exc) or type(exc).__name__
        return errors.DBConnectionError(f"PostgreSQL at {redact(url)}: {reason}")
    return errors.DBError(f"{type(exc).__name__}: {exc}")


@functools.lru_cache(maxsize=2048)
def _sql(text: str) -> str:
    return numbered_placeholders(text)


def _count(status: str) -> int:
    """Rows changed, from a command status ("UPDATE 3", "INSERT 0 1", "SELECT 2")."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else 0


class _PoolTx:
    """``Tx`` on one connection inside a transaction."""

    __slots__ = ("conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = await self.conn.fetch(_sql(sql), *params)
        return rows

    async def execute(self, sql: str, params: Params = ()) -> int:
        return _count(await self.conn.execute(_sql(sql), *params))

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        await self.conn.executemany(_sql(sql), rows)


async def _migrate(conn: asyncpg.Connection) -> None:
    """Apply the migrations not applied yet, in one transaction, one migrator at a time."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = await conn.fetchval("SELECT MAX(version) FROM schema_version") or 0
        for version, script in MIGRATIONS:
            if version > current:
                for statement in statements(postgres_ddl(script)):
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_version VALUES ($1)", version)


class PostgresEngine:
    """``Engine`` on a PostgreSQL database (``postgresql://user:pw@host:port/db``)."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        command_timeout: float = 60.0,
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"<PostgresEngine {redact(self.url)}>"

    async def open(self) -> None:
        try:
            pool = await asyncpg.create_pool(
                self._dsn(),
                min_size=1,
                max_size=self.pool_size,
                timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
            )
        except Exception as exc:
            raise translate(exc, self.url) from exc
        try:
            async with pool.acquire() as conn:
                await _migrate(conn)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, Exception):
                raise translate(exc, self.url) from exc
            raise
        self._pool = pool

    def _dsn(self) -> str:
        """asyncpg's scheme is postgresql:// or postgres://; accept SQLAlchemy's +asyncpg."""
        scheme, sep, rest = self.url.partition("://")
        return f"postgresql{sep}{rest}" if scheme.startswith("postgres") else self.url

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.connect_timeout)
            except (TimeoutError, *_CONNECTION_ERRORS):
                LOG.warning("closing %r did not finish; connections terminated", self)
                pool.terminate()

    # -- Engine ---------------------------------------------------------------------
    def fetch(self, sql: str, params: Params = ()) -> Awaitable[list[Row]]:
        return self._run(lambda conn: _PoolTx(conn).fetch(sql, params))

    def execute(self, sql: str, params: Params = ()) -> Awaitable[int]:
        return self._run(lambda conn: _PoolTx(conn).execute(sql, params))

    def batch(self, sql: str, rows: Sequence[Params]) -> Awaitable[None]:
        return self.transaction(lambda tx: tx.executemany(sql, rows))

    def transaction(
        self, job: Job[T], *, readonly: bool = False, one_write: bool = False
    ) -> Awaitable[T]:
        async def in_transaction(conn: asyncpg.Connection) -> T:
            async with conn.transaction(readonly=readonly):
                return await job(_PoolTx(conn))

        return self._run(in_transaction)

    async def _run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``work`` on a pooled connection; conflicts re-run, errors translated."""
        pool = self._pool
        if pool is None:
            raise RuntimeError(f"database {redact(self.url)} is not open")
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                async with pool.acquire(timeout=self.connect_timeout) as conn:
                    return await work(conn)
            except _CONFLICTS as exc:
                if attempt == CONFLICT_RETRIES:
                    raise translate(exc, self.url) from exc
                LOG.debug("database conflict, running the transaction again: %s", exc)
                await asyncio.sleep(0.01 * (attempt + 1))
            except _DRIVER_ERRORS as exc:
                raise translate(exc, self.url) from exc
        raise AssertionError("unreachable")  # the loop returns or raises


async def create_scratch_schema(url: str, prefix: str = "scratch") -> str:
    """A new, empty schema on the server of ``url``; the URL that uses it (benches and
    tests get a database of their own without CREATE DATABASE)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin(url, f"CREATE SCHEMA {name}")
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}search_path={name}"


async def drop_scratch_schema(url: str) -> None:
    """Drop the schema a ``create_scratch_schema`` URL names, with everything in it."""
    name = parse_qs(urlsplit(url).query)["search_path"][0]
    if not name.isidentifier():
        raise ValueError(f"not a scratch schema: {name!r}")
    await _admin(url, f"DROP SCHEMA IF EXISTS {name} CASCADE")


async def _admin(url: str, sql: str) -> None:
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except _DRIVER_ERRORS as exc:
        raise translate(exc, url) from exc
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
