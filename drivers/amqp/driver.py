"""``rabbit://``: the Driver seam on RabbitMQ, wire-compatible with oslo.messaging."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final, cast

from aionova.drivers.amqp import naming
from aionova.drivers.amqp.connection import Connector
from aionova.drivers.amqp.direct import DirectReplies
from aionova.drivers.amqp.listener import AmqpListener
from aionova.drivers.amqp.messages import expiration_ms, properties
from aionova.drivers.amqp.notify import NotificationSender, listen_queues
from aionova.drivers.amqp.publisher import Publisher
from aionova.drivers.amqp.replies import ReplySender
from aionova.drivers.amqp.settings import AmqpSettings, parse_url
from aionova.rpc._target import Target
from aionova.rpc.driver import MessageHandler, NotificationHandler, ReplyHandler
from aionova.rpc.errors import (
    InvalidTarget,
    MessageDeliveryFailure,
    MessagingTimeout,
    TransportError,
)

LOG = logging.getLogger(__name__)


class AmqpDriver:
    """A RabbitMQ transport built from a URL; connects lazily on first use.

    Two connections, as oslo.messaging has: one publishes (requests and
    replies, with publisher confirms), one consumes (server queues and this
    driver's reply queue, one channel per subscription).
    """

    def __init__(self, url: str | AmqpSettings) -> None:
        self.settings: Final = parse_url(url) if isinstance(url, str) else url
        self._pub_conn = Connector(self.settings, "publish")
        self._sub_conn = Connector(self.settings, "consume")
        self._publisher = Publisher(self._pub_conn, self.settings)
        self._replies = ReplySender(self._publisher, self.settings)
        self._notifications = NotificationSender(self._pub_conn, self._publisher, self.settings)
        self._listeners: set[AmqpListener] = set()
        self._reply_listener: AmqpListener | None = None
        self._direct: DirectReplies | None = None
        self._reply_lock = asyncio.Lock()
        self._closed = False

    @property
    def connections(self) -> dict[str, int]:
        """How many times each connection was (re)established (for tests and stats)."""
        return {"publish": self._pub_conn.connects, "consume": self._sub_conn.connects}

    def _check_open(self) -> None:
        if self._closed:
            raise TransportError("AMQP driver is closed")

    async def send(
        self,
        target: Target,
        body: bytes,
        *,
        timeout: float | None = None,
        retry: int | None = None,
        mandatory: bool = False,
    ) -> None:
        self._check_open()
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        if len(body) > self.settings.max_message_size:
            raise MessageDeliveryFailure(
                f"message of {len(body)} bytes exceeds max_message_size="
                f"{self.settings.max_message_size}"
            )
        exchange, routing_key = naming.publish_address(self.settings, target)
        expiration = expiration_ms(timeout)
        # A call needs no publisher confirm: its reply (or its timeout) tells the
        # caller. A cast waits for the broker's confirm, so it is not lost when
        # the connection breaks first (it is published again on the next one);
        # so does every publish of the at-least-once mode.
        confirm = timeout is None or mandatory or self.settings.at_least_once
        if not confirm and self._publisher.publish_now(exchange, routing_key, body, expiration):
            await self._publisher.wait_backlog()
            return
        publishing = self._publisher.publish(
            exchange,
            routing_key,
            body,
            None if expiration is None else properties(expiration),
            mandatory=mandatory,
            retry=retry,
            confirm=confirm,
        )
        if timeout is None:
            await publishing
            return
        # A call: once its time to live has passed nobody waits for it, so stop retrying.
        try:
            async with asyncio.timeout(timeout):
                await publishing
        except TimeoutError:
            raise MessagingTimeout(
                f"Timed out publishing to {exchange.name!r}/{routing_key!r} "
                f"within the call's {timeout}s (broker unreachable?)"
            ) from None

    async def reply(self, reply_to: str, body: bytes) -> None:
        self._check_open()
        await self._replies.send(reply_to, body)

    async def reply_address(self, on_reply: ReplyHandler) -> str:
        self._check_open()
        if self.settings.direct_reply_to:
            async with self._reply_lock:
                if self._direct is None:
                    direct = DirectReplies(self._sub_conn, self.settings, on_reply)
                    await direct.start()
                    self._direct = direct
            return await self._direct.address()
        async with self._reply_lock:
            if self._reply_listener is None:
                spec = naming.reply_queue(self.settings)
                # The queue is this driver's alone: close() deletes it (x-expires is
                # only the safety net for a process that dies without closing).
                listener = AmqpListener(
                    self._sub_conn,
                    self.settings,
                    (spec,),
                    lambda d: on_reply(d.body),
                    transient=(spec,),
                )
                await listener.start()
                self._reply_listener = listener
            return self._reply_listener.queue_names[0]

    def current_reply_address(self) -> str | None:
        """The reply address to put in a request now (see ``reply_address``).

        A ``reply_<uuid>`` queue keeps its name; a direct reply-to address
        belongs to one connection: None while reconnecting.
        """
        if self._direct is not None:
            return self._direct.current()
        listener = self._reply_listener
        return None if listener is None else listener.queue_names[0]

    async def listen(
        self, target: Target, on_message: MessageHandler, *, window: int | None = None
    ) -> AmqpListener:
        self._check_open()
        if not target.topic or not target.server:
            raise InvalidTarget("A server target needs a topic and a server", target)
        queues = naming.server_queues(self.settings, target)
        listener = AmqpListener(
            self._sub_conn,
            self.settings,
            queues,
            on_message,
            transient=(queues[2],),
            ack_late=self.settings.at_least_once,
            window=window,
        )
        await listener.start()
        self._listeners.add(listener)
        return listener

    async def notify(self, target: Target, body: bytes, *, retry: int | None = None) -> None:
        """Publish a notification (see ``aionova.drivers.amqp.notify``)."""
        self._check_open()
        if not target.topic:
            raise InvalidTarget("A topic is required to notify", target)
        if len(body) > self.settings.max_message_size:
            raise MessageDeliveryFailure(
                f"notification of {len(body)} bytes exceeds max_message_size="
                f"{self.settings.max_message_size}"
            )
        await self._notifications.send(target, body, retry)

    async def listen_for_notifications(
        self,
        targets_and_priorities: Sequence[tuple[Target, str]],
        pool: str | None,
        on_message: NotificationHandler,
        *,
        transient: bool = False,
    ) -> AmqpListener:
        """Consume notification queues, acking (or requeueing) after processing."""
        self._check_open()
        queues, owned = listen_queues(
            self.settings, targets_and_priorities, pool, transient=transient
        )
        # With late acks every delivery is an AmqpDelivery, which has requeue().
        handler = cast(MessageHandler, on_message)
        listener = AmqpListener(
            self._sub_conn, self.settings, queues, handler, transient=owned, ack_late=True
        )
        await listener.start()
        self._listeners.add(listener)
        return listener

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        listeners = [*self._listeners, *filter(None, [self._reply_listener])]
        self._listeners.clear()
        for listener in listeners:
            await listener.close()
        if self._direct is not None:
            await self._direct.close()
        await self._notifications.close()
        await self._replies.close()
        await self._publisher.close()
        await self._pub_conn.close()
        await self._sub_conn.close()
