"""Fixtures shared by every test directory."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from aionova import rpc

DEFAULT_RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"


@pytest.fixture(scope="session")
def rabbit_url() -> str:
    """The broker of ``scripts/rabbitmq.sh`` (or ``AIONOVA_RABBIT_URL``).

    Tests that need it fail, never skip, when nothing answers there.
    """
    url = os.environ.get("AIONOVA_RABBIT_URL", DEFAULT_RABBIT_URL)
    first = urlsplit(url.split(",")[0])
    try:
        socket.create_connection((first.hostname or "127.0.0.1", first.port or 5672), 10).close()
    except OSError as exc:
        pytest.fail(
            f"RabbitMQ is not reachable at {url} ({exc}); run `bash scripts/rabbitmq.sh start`",
            pytrace=False,
        )
    return url


@pytest.fixture
def bus_url() -> str:
    """A ``memory://`` URL no other test uses."""
    return f"memory://{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def transport(bus_url: str) -> AsyncIterator[rpc.Transport]:
    async with rpc.get_rpc_transport(bus_url, allowed_remote_exmods=[__name__]) as t:
        yield t


@pytest.fixture
def topic() -> str:
    return f"topic_{uuid.uuid4().hex[:8]}"


# -- databases: SQLite files, or PostgreSQL schemas (AIONOVA_TEST_DATABASE=postgresql) --------
ROOT = Path(__file__).resolve().parents[1]
TEST_DATABASE = os.environ.get("AIONOVA_TEST_DATABASE", "sqlite").lower()
if TEST_DATABASE not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"AIONOVA_TEST_DATABASE={TEST_DATABASE}: sqlite or postgresql")


def pg_env() -> dict[str, str]:
    """The environment scripts/postgres.sh needs for this checkout's server."""
    return {**os.environ, "AIONOVA_PG_PORT": os.environ.get("AIONOVA_PG_PORT", "55432")}


def postgres_script(action: str, timeout: float = 300) -> str:
    """Run ``scripts/postgres.sh ACTION`` (start installs and initialises as needed)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), action],
        env=pg_env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if done.returncode != 0 and action != "status":
        pytest.fail(f"scripts/postgres.sh {action} failed: {done.stderr or done.stdout}")
    return done.stdout.strip()


class PostgresSchemas:
    """One schema per test database on the server of scripts/postgres.sh; all dropped at
    the end of the session. Each URL names its schema (``?search_path=``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[str] = []

    def _run(self, *statements: str) -> None:
        """Each statement on its own (its own transaction: dropping hundreds of schemas
        in one would run out of lock slots)."""

        async def run() -> None:
            conn = await asyncpg.connect(self.url, timeout=10)
            try:
                for sql in statements:
                    await conn.execute(sql)
            finally:
                await conn.close()

        # Callable from a running event loop too (a test's cloud factory): its own thread.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run()).result()

    def new(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._run(f"CREATE SCHEMA {name}")
        self.made.append(name)
        return f"{self.url}?search_path={name}"

    def drop_all(self) -> None:
        if self.made:
            self._run(*(f"DROP SCHEMA IF EXISTS {n} CASCADE" for n in self.made))
            self.made.clear()


_SCHEMAS: PostgresSchemas | None = None


def postgres_url_now() -> str:
    """The PostgreSQL of scripts/postgres.sh (started if it is not running)."""
    if (
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres.sh"), "status"], env=pg_env(), timeout=30
        ).returncode
        != 0
    ):
        postgres_script("start")
    return os.environ.get("AIONOVA_PG_URL") or postgres_script("url")


def schemas() -> PostgresSchemas:
    """The session's schemas (dropped when the session ends, see pytest_sessionfinish)."""
    global _SCHEMAS
    if _SCHEMAS is None:
        _SCHEMAS = PostgresSchemas(postgres_url_now())
    return _SCHEMAS


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _SCHEMAS is not None:
        _SCHEMAS.drop_all()


def database_for(directory: Path, name: str = "nova") -> str:
    """A new, empty database on the session's backend: a SQLite file in ``directory``, or
    a PostgreSQL schema (AIONOVA_TEST_DATABASE=postgresql). Usable outside fixtures (the
    ``aionova`` subprocesses of tests/clients get it as ``--database``)."""
    if TEST_DATABASE == "postgresql":
        return schemas().new()
    return str(directory / f"{name}.sqlite")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server (whatever the session's backend): for tests that need it."""
    return schemas().url


class DatabaseFactory:
    """New, empty databases for a test (see ``database_for``)."""

    backend = TEST_DATABASE

    def url(self, directory: Path, name: str = "nova") -> str:
        return database_for(directory, name)


@pytest.fixture(scope="session")
def databases() -> DatabaseFactory:
    """``databases.url(tmp_path)``: a new database on the session's backend."""
    return DatabaseFactory()


@pytest.fixture
def db_url(databases: DatabaseFactory, tmp_path: Path) -> str:
    """A new, empty database on the session's backend."""
    return databases.url(tmp_path)
