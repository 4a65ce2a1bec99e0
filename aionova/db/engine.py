"""The query layer's seam: an ``Engine`` runs portable SQL; the queries never see which.

Every query of ``aionova.db`` is written once, in SQL both SQLite (≥ 3.35) and
PostgreSQL accept: ``?`` placeholders (an engine rewrites them to its own style),
``RETURNING``, ``INSERT … ON CONFLICT … DO UPDATE``, compare-and-swap updates
(``UPDATE … WHERE task_state IN (…)``) and no engine-specific functions. A query
that needs several statements atomically is a *job*: an ``async def job(tx)``
that awaits only ``tx`` (``Tx.fetch`` / ``Tx.execute`` / ``Tx.executemany``).
An engine runs the job in one transaction: the SQLite engine on its own thread,
where ``tx``'s methods complete without suspending (so the coroutine runs to the
end in one step, see ``run_to_end``); an asyncpg engine would await them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Row(Protocol):
    """One result row: by position or by column name (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> Iterable[str]: ...


Params = Sequence[Any]


class Tx(Protocol):
    """The statements of one transaction (inside a job)."""

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of one statement (a SELECT, or a write with ``RETURNING``)."""
        ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """One statement for each parameter row."""
        ...


Job = Callable[[Tx], Coroutine[Any, Any, T]]


class Engine(Protocol):
    """A database the control plane's queries run on (one per process and file/server).

    Each method is atomic: one statement, or a job in one transaction. An engine may
    group concurrent calls into one transaction (the SQLite engine does, one commit
    for many callers); each call still succeeds or fails on its own.
    """

    async def open(self) -> None:
        """Connect and bring the schema to the latest migration."""
        ...

    async def close(self) -> None:
        """Finish what was submitted, then disconnect."""
        ...

    def fetch(self, sql: str, params: Params = ()) -> Awaitable[list[Row]]:
        """Every row of one statement."""
        ...

    def execute(self, sql: str, params: Params = ()) -> Awaitable[int]:
        """One statement; the number of rows it changed."""
        ...

    def batch(self, sql: str, rows: Sequence[Params]) -> Awaitable[None]:
        """One statement for many parameter rows, in one transaction."""
        ...

    def transaction(
        self, job: Job[T], *, readonly: bool = False, one_write: bool = False
    ) -> Awaitable[T]:
        """Run ``job`` in one transaction (rolled back if it raises); its result.

        Hints an engine may use: ``readonly``, the job only reads (no write lock);
        ``one_write``, it writes with one statement at most (atomic by itself).
        """
        ...


def numbered_placeholders(sql: str) -> str:
    """``?`` placeholders as ``$1, $2 …`` (PostgreSQL's style), quoted text left alone."""
    out: list[str] = []
    count, quote = 0, ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            count += 1
            out.append(f"${count}")
            continue
        out.append(char)
    return "".join(out)


def run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """Run a job's coroutine that never suspends (its ``tx`` is synchronous) to its end."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise RuntimeError("a database job awaited something other than its transaction")
