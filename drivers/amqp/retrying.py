"""oslo.messaging's ``retry`` for one AMQP operation: connection failures only.

``retry`` None or -1 retries forever, 0 makes one attempt, N makes N+1. Only a
failure of the connection or channel is retried (after the connector has
reconnected, or paced by ``retry_interval`` when the connection is fine); a
returned mandatory message, a declaration conflict or a bug surfaces at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.errors import (
    being_cancelled,
    is_connection_error,
    is_returned,
    map_exception,
)
from aionova.drivers.amqp.settings import AmqpSettings
from aionova.rpc.errors import MessageDeliveryFailure, MessageUndeliverable, MessagingException

LOG = logging.getLogger(__name__)


def attempts_for(retry: int | None) -> int | None:
    """``retry`` → number of attempts: None/-1 forever (None), 0 → 1, N → N+1."""
    if retry is None or retry < 0:
        return None
    return retry + 1


async def with_retries(
    connector: Connector,
    settings: AmqpSettings,
    what: str,
    once: Callable[[], Awaitable[None]],
    retry: int | None,
) -> None:
    """Run ``once()`` until it succeeds or ``retry`` is spent (``MessageDeliveryFailure``).

    Raises ``MessageUndeliverable`` at once for a returned mandatory message.
    """
    attempts = attempts_for(retry)
    attempt = 0
    while True:
        attempt += 1
        try:
            await once()
            return
        except (Exception, asyncio.CancelledError) as exc:
            if being_cancelled():
                raise asyncio.CancelledError from exc
            if is_returned(exc):
                raise MessageUndeliverable(f"{what}: no queue bound to take it") from exc
            if not is_connection_error(exc):  # retrying cannot help
                if isinstance(exc, MessagingException):  # e.g. a DeclarationConflict
                    raise MessageDeliveryFailure(f"{what}: {exc}") from exc
                raise  # a bug, not a connection failure: surfaces as itself
            error = map_exception(exc, what)
            if connector.closed or (attempts is not None and attempt >= attempts):
                raise MessageDeliveryFailure(
                    f"gave up after {attempt} attempt(s): {error}"
                ) from exc
            LOG.warning("AMQP attempt %d failed: %s", attempt, error)
            if connector.is_connected:
                # A channel-level failure (the connection is fine): pace the retries.
                await asyncio.sleep(settings.retry_interval)
