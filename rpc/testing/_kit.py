"""The conformance kit: every check by name, one runner, one error listing failures."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable
from types import MappingProxyType

from aionova.rpc.testing._checks_calls import CALL_CHECKS
from aionova.rpc.testing._checks_routing import ROUTING_CHECKS
from aionova.rpc.testing._harness import Harness, TransportFactory

LOG = logging.getLogger(__name__)

Check = Callable[[Harness], Awaitable[None]]

#: Every check, by name (its function's name), in a stable order.
CHECKS: MappingProxyType[str, Check] = MappingProxyType(
    {check.__name__: check for check in (*CALL_CHECKS, *ROUTING_CHECKS)}
)
#: Seconds one check may take, set-up and clean-up included.
CHECK_TIMEOUT = 60.0


class ConformanceError(AssertionError):
    """Checks the driver failed: ``failures`` maps each check's name to its error."""

    def __init__(self, failures: dict[str, BaseException]) -> None:
        self.failures = failures
        lines = [f"{len(failures)} conformance check(s) failed:"]
        for name, exc in failures.items():
            lines.append(f"- {name}: {type(exc).__name__}: {exc}")
        super().__init__("\n".join(lines))


async def run_check(
    check: str | Check, transports: TransportFactory, *, timeout: float = CHECK_TIMEOUT
) -> None:
    """Run one check (by name or function) in a fresh harness, bounded by ``timeout``."""
    if isinstance(check, str):
        if check not in CHECKS:
            raise ValueError(f"no conformance check {check!r}; known: {', '.join(CHECKS)}")
        check = CHECKS[check]
    async with asyncio.timeout(timeout), Harness(transports) as harness:
        await check(harness)


async def check_driver(
    transports: TransportFactory,
    *,
    only: Iterable[str] | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> list[str]:
    """Run every check (or ``only`` those) and return the names that passed.

    Raises ``ConformanceError`` naming each check that failed, after running
    them all. Usable from any test runner: ``await check_driver(factory)``.
    """
    names = list(CHECKS) if only is None else list(only)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        raise ValueError(f"no conformance check named {unknown}; known: {', '.join(CHECKS)}")
    failures: dict[str, BaseException] = {}
    for name in names:
        try:
            await run_check(name, transports, timeout=timeout)
        except Exception as exc:  # a failing check is logged and reported at the end
            details = "".join(traceback.format_exception(exc))
            LOG.error("conformance check %s failed:\n%s", name, details)
            failures[name] = exc
    if failures:
        raise ConformanceError(failures)
    return names
