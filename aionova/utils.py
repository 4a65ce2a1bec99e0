"""Small helpers shared by the services."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
LOG = logging.getLogger("aionova")


async def best_effort(
    what: str,
    work: Awaitable[T],
    *,
    logger: logging.Logger = LOG,
    quiet: tuple[type[Exception], ...] = (),
) -> T | None:
    """Await ``work``; if it fails, log what failed and why, and go on (None).

    The one place the control plane swallows an error: for work whose failure must not
    hide the error being handled (a fault record, an action event, a task-state
    revert, cleaning up a failed guest). ``quiet`` exceptions are expected outcomes
    (e.g. the instance was deleted meanwhile) and logged at debug level only. A
    cancellation (a crash or a shutdown) is never swallowed.
    """
    try:
        return await work
    except quiet as exc:
        logger.debug("%s: skipped (%s: %s)", what, type(exc).__name__, exc)
    except Exception as exc:
        logger.warning("%s failed: %s: %s", what, type(exc).__name__, exc, exc_info=True)
    return None
