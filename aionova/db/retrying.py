"""Services ride out a database restart: calls re-run after a lost connection or a conflict.

``Retrying`` wraps an engine (composition: it shares the engine, it does not open or
close it) and re-runs a call that failed with ``DBConnectionError`` or
``DBDeadlock``, waiting ``retry_interval`` seconds, doubling up to
``max_retry_interval``, at most ``max_retries`` times (oslo.db's ``db_max_retries``
and friends). The conductor and scheduler store use it; the API does not (it
answers 503 at once: a client retries better than a held request).

Re-running is safe: a failed call committed nothing (a job is one transaction),
except when the connection broke during its COMMIT. Then a compare-and-swap that
did commit fails its re-run as an unexpected state, which callers already handle
as "someone else moved on"; an insert may be applied twice (an action event).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aionova.db.engine import Engine, Job, Params, Row
from aionova.db.errors import RETRYABLE, DBError

LOG = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long a service keeps trying (defaults: ~1 minute in all)."""

    max_retries: int = 20
    retry_interval: float = 0.25
    max_retry_interval: float = 5.0

    def delays(self) -> list[float]:
        """The waits before each re-run."""
        delay, out = self.retry_interval, []
        for _ in range(max(0, self.max_retries)):
            out.append(delay)
            delay = min(delay * 2, self.max_retry_interval)
        return out


class Retrying:
    """An ``Engine`` that re-runs its inner engine's calls on retryable errors."""

    def __init__(self, inner: Engine, policy: RetryPolicy) -> None:
        self.inner, self.policy = inner, policy
        self._delays = policy.delays()  # once: every database call passes through here

    async def open(self) -> None:
        """Nothing: the inner engine is opened by its owner."""

    async def close(self) -> None:
        """Nothing: the inner engine is closed by its owner."""

    def fetch(self, sql: str, params: Params = ()) -> Awaitable[list[Row]]:
        return self._retry(lambda: self.inner.fetch(sql, params))

    def execute(self, sql: str, params: Params = ()) -> Awaitable[int]:
        return self._retry(lambda: self.inner.execute(sql, params))

    def batch(self, sql: str, rows: Sequence[Params]) -> Awaitable[None]:
        return self._retry(lambda: self.inner.batch(sql, rows))

    def transaction(
        self, job: Job[T], *, readonly: bool = False, one_write: bool = False
    ) -> Awaitable[T]:
        return self._retry(
            lambda: self.inner.transaction(job, readonly=readonly, one_write=one_write)
        )

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        delays = self._delays
        for attempt in range(len(delays) + 1):
            try:
                return await call()
            except RETRYABLE as exc:
                if attempt == len(delays):
                    LOG.error("database call failed after %d retries: %s", attempt, exc)
                    raise
                if attempt == 0:
                    LOG.warning("database call failed, retrying: %s", exc)
                await asyncio.sleep(delays[attempt])
        raise DBError("unreachable")  # the loop returns or raises
