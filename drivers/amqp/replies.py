"""The caller's reply queue, and publishing replies to another caller's queue."""

from __future__ import annotations

import asyncio
import logging
import time

from aionova.drivers.amqp.messages import properties
from aionova.drivers.amqp.naming import DEFAULT_EXCHANGE
from aionova.drivers.amqp.publisher import Publisher
from aionova.drivers.amqp.settings import AmqpSettings
from aionova.rpc.errors import MessageDeliveryFailure, MessageUndeliverable

LOG = logging.getLogger(__name__)

RETURNED_RETRY_INTERVAL = 0.25
OBSOLETE_TTL = 60.0
OBSOLETE_SIZE = 200


class ReplySender:
    """Publishes replies mandatory to ``''``; retries while the broker returns them.

    A reply queue that stays missing for ``missing_consumer_retry_timeout`` is
    remembered as gone for a minute, so later replies to it are dropped at once.
    """

    def __init__(self, publisher: Publisher, settings: AmqpSettings) -> None:
        self._publisher = publisher
        self._settings = settings
        self._obsolete: dict[str, float] = {}
        self._props = properties()

    def _is_obsolete(self, reply_to: str) -> bool:
        until = self._obsolete.get(reply_to)
        if until is None:
            return False
        if until < time.monotonic():
            del self._obsolete[reply_to]
            return False
        return True

    def _forget(self, reply_to: str) -> None:
        if len(self._obsolete) >= OBSOLETE_SIZE:
            self._obsolete.pop(next(iter(self._obsolete)))
        self._obsolete[reply_to] = time.monotonic() + OBSOLETE_TTL

    async def send(self, reply_to: str, body: bytes) -> None:
        """Publish one reply; gives up (logged) when the queue stays missing."""
        if self._is_obsolete(reply_to):
            LOG.info("AMQP: dropping reply to obsolete queue %s", reply_to)
            return
        timeout = self._settings.missing_consumer_retry_timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    await self._publisher.publish(
                        DEFAULT_EXCHANGE, reply_to, body, self._props, mandatory=True
                    )
                return
            except MessageUndeliverable:
                LOG.debug("AMQP: reply to %s returned (no such queue); publishing again", reply_to)
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(RETURNED_RETRY_INTERVAL)
            except TimeoutError:
                raise MessageDeliveryFailure(
                    f"could not publish the reply to {reply_to} within {timeout:.0f}s"
                ) from None
        LOG.error("AMQP: reply queue %s missing for %.0fs, reply dropped", reply_to, timeout)
        self._forget(reply_to)
