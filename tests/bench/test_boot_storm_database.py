"""``python -m bench.boot_storm --database``: both databases, named in the JSON line."""

from __future__ import annotations

import asyncpg

from bench.boot_storm import run


async def test_boot_storm_on_postgresql_reports_it(postgres_url: str) -> None:
    result = await run(2, 10, None, 5, database=postgres_url)
    assert result["database"] == "postgresql"
    assert (result["active"], result["error"], result["overcommitted_hosts"]) == (10, 0, 0)
    conn = await asyncpg.connect(postgres_url)
    try:  # the run's own schema is gone
        left = await conn.fetch("SELECT 1 FROM pg_namespace WHERE nspname LIKE 'bench_%'")
    finally:
        await conn.close()
    assert left == []


async def test_boot_storm_default_is_sqlite() -> None:
    result = await run(2, 10, None, 5)
    assert result["database"] == "sqlite" and result["active"] == 10
