"""Publishing replies to another caller's queue, as oslo.messaging does.

A reply is published mandatory to the default exchange ``''`` with the
caller's reply queue as routing key. While the broker returns it (the queue
does not exist, yet or any more) it is published again every 0.25 s, for
``missing_consumer_retry_timeout`` (60 s); a queue that stays missing that
long is remembered as gone for a minute, and later replies to it are dropped
at once.

Without at-least-once the reply takes the fast, unconfirmed path: ``send()``
returns once it is queued, and a returned reply comes back through
``Publisher.on_returned`` to be published again from here (``_returned``),
without holding up the server's worker. With at-least-once the reply is
confirmed and ``send()`` retries in place, as oslo's server does.

A caller on RabbitMQ's direct reply-to (``amq.rabbitmq.reply-to.…``) gets
its reply without the mandatory flag: the broker delivers such a reply and
still returns it as unroutable (it is no queue), so mandatory would only
publish it again and again.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aionova.drivers.amqp.errors import map_exception
from aionova.drivers.amqp.messages import properties
from aionova.drivers.amqp.naming import DEFAULT_EXCHANGE, DIRECT_REPLY_PREFIX
from aionova.drivers.amqp.publisher import Publisher
from aionova.drivers.amqp.settings import AmqpSettings
from aionova.rpc.errors import MessageDeliveryFailure, MessageUndeliverable, MessagingException
from aiormq.abc import DeliveredMessage

LOG = logging.getLogger(__name__)

RETURNED_RETRY_INTERVAL = 0.25
OBSOLETE_TTL = 60.0
OBSOLETE_SIZE = 200
_RETURNED_SIZE = 4096  # returned replies tracked before the expired ones are pruned


class ReplySender:
    """Publishes replies mandatory to ``''``; publishes them again while the broker returns them."""

    def __init__(self, publisher: Publisher, settings: AmqpSettings) -> None:
        self._publisher = publisher
        self._settings = settings
        self._obsolete: dict[str, float] = {}
        self._props = properties()
        self._deadlines: dict[bytes, float] = {}  # returned reply body → when to give up
        self._tasks: set[asyncio.Task[None]] = set()
        publisher.on_returned = self._returned

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
        mandatory = not reply_to.startswith(DIRECT_REPLY_PREFIX)
        if not self._settings.at_least_once:
            await self._send_fast(reply_to, body, mandatory)
            return
        timeout = self._settings.missing_consumer_retry_timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    await self._publisher.publish(
                        DEFAULT_EXCHANGE, reply_to, body, self._props, mandatory=mandatory
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
        self._give_up(reply_to)

    async def _send_fast(self, reply_to: str, body: bytes, mandatory: bool) -> None:
        publisher = self._publisher
        if publisher.publish_now(DEFAULT_EXCHANGE, reply_to, body, None, mandatory):
            await publisher.wait_backlog()
            return
        timeout = self._settings.missing_consumer_retry_timeout
        try:
            async with asyncio.timeout(timeout):
                await publisher.publish(
                    DEFAULT_EXCHANGE,
                    reply_to,
                    body,
                    self._props,
                    mandatory=mandatory,
                    confirm=False,
                )
        except TimeoutError:
            raise MessageDeliveryFailure(
                f"could not publish the reply to {reply_to} within {timeout:.0f}s"
            ) from None

    def _give_up(self, reply_to: str) -> None:
        timeout = self._settings.missing_consumer_retry_timeout
        LOG.error("AMQP: reply queue %s missing for %.0fs, reply dropped", reply_to, timeout)
        self._forget(reply_to)

    # -- returned replies (the unconfirmed path) -------------------------------

    def _returned(self, message: DeliveredMessage) -> None:
        """``Publisher.on_returned``: publish the reply again in a moment, or give up."""
        reply_to, body = message.routing_key or "", message.body
        LOG.debug("AMQP: reply to %s returned (no such queue); publishing again", reply_to)
        now = time.monotonic()
        deadlines = self._deadlines
        if len(deadlines) >= _RETURNED_SIZE:
            for key in [k for k, until in deadlines.items() if until < now]:
                del deadlines[key]
        deadline = deadlines.setdefault(body, now + self._settings.missing_consumer_retry_timeout)
        if now >= deadline:
            del deadlines[body]
            self._give_up(reply_to)
            return
        task = asyncio.get_running_loop().create_task(self._again(reply_to, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _again(self, reply_to: str, body: bytes) -> None:
        await asyncio.sleep(RETURNED_RETRY_INTERVAL)
        try:
            await self._send_fast(reply_to, body, True)
        except MessagingException as exc:
            LOG.error("AMQP: reply to %s dropped: %s", reply_to, exc)
        except Exception as exc:  # a connection failure the retries did not cover
            LOG.error("AMQP: reply to %s dropped: %s", reply_to, map_exception(exc))

    async def close(self) -> None:
        """Stop publishing returned replies again."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
