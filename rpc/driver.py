"""The driver seam: the one interface a transport implements.

A driver moves opaque bytes between addresses. It knows exchanges, queues and
routing; it knows nothing of endpoints, versions, contexts or errors' meaning.
Every body it carries was produced by ``aionova.rpc._envelope`` and is handed back
unchanged, so every driver runs the same codec and error round-trip.

Contract (every driver MUST):

* Route as RabbitMQ with oslo.messaging's topology does. For a listen target
  ``(exchange, topic, server)`` the driver consumes three queues: the shared
  ``topic`` queue (competing consumers: each message goes to exactly one
  listener of the topic), the ``topic.server`` queue (only that server) and a
  private fanout queue (every listener of the topic gets a copy).
  ``send`` to a target with ``fanout`` goes to every listener of the topic; with
  ``server`` to that server's queue; otherwise to the shared topic queue.
  ``exchange`` None means the driver's control exchange.
* Keep messages published to a queue that exists but has no consumer until a
  consumer attaches; drop (or, with ``mandatory``, raise ``MessageUndeliverable``)
  messages for which no queue exists.
* Call ``on_message`` once per delivery, from the event loop, never concurrently
  with itself for one listener, and never block in it. ``on_message`` must not
  raise; it hands the work off.
* Call ``Delivery.done()``'s coroutine exactly once per delivery handed out
  (the server does this after processing); drivers that acknowledge on receipt
  may treat it as a no-op. A delivery whose processing was cancelled (a server
  aborted, as in a crash) is never done.
* Bound the work in flight when ``listen`` is given a ``window``: hand
  ``on_message`` at most ``window`` deliveries that are not yet done; the
  others wait in the broker's queue (unacknowledged) until one is done, so a
  burst grows no listener's memory and a crash loses no more than the window.
  An at-most-once driver acknowledges a windowed delivery when it hands it
  over, an at-least-once driver in ``done()`` (then a crash loses nothing:
  the broker delivers it again). ``window`` None is oslo.messaging's
  delivery: everything is handed over as it arrives.
* Map its library's exceptions to ``aionova.rpc.errors`` (``MessageDeliveryFailure``,
  ``MessageUndeliverable``, ``TransportError``): nothing else escapes.
* Bound every wait: ``retry`` None or -1 means retry publishing forever, 0 one
  attempt, N means N+1 attempts, then ``MessageDeliveryFailure``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from aionova.rpc._target import Target


@runtime_checkable
class Delivery(Protocol):
    """One received message."""

    body: bytes

    def done(self) -> Awaitable[None] | None:
        """Settle the message after processing (ack for at-least-once drivers).

        May return None when there is nothing to await.
        """


MessageHandler = Callable[[Delivery], None]
ReplyHandler = Callable[[bytes], None]


class Listener(Protocol):
    """What ``Driver.listen`` returns: a running subscription."""

    async def stop(self) -> None:
        """Stop consuming: ``on_message`` is not called again after this returns."""

    async def close(self) -> None:
        """Release what the subscription declared for itself (its fanout queue)."""


class Driver(Protocol):
    """A transport. Created from a URL by its factory; connects lazily."""

    async def send(
        self,
        target: Target,
        body: bytes,
        *,
        timeout: float | None = None,
        retry: int | None = None,
        mandatory: bool = False,
    ) -> None:
        """Publish a request. ``timeout`` (calls only) is the message's time to live,
        and bounds this coroutine: it returns or raises within ``timeout`` seconds
        (``MessagingTimeout`` when it could not publish in time)."""

    async def reply(self, reply_to: str, body: bytes) -> None:
        """Publish a reply to the reply address named in a request."""

    async def reply_address(self, on_reply: ReplyHandler) -> str:
        """Create (once) this driver's reply queue and return its name.

        Every reply body published to that name is passed to ``on_reply``. The
        first caller's handler is the one used.
        """

    async def listen(
        self, target: Target, on_message: MessageHandler, *, window: int | None = None
    ) -> Listener:
        """Subscribe to the three queues of a server target (see the contract).

        ``window``: at most that many deliveries handed over and not yet done
        (``RPCServer`` passes its ``max_concurrency``); None: no limit.
        """

    async def close(self) -> None:
        """Close connections and cancel every task the driver owns."""


DriverFactory = Callable[[str], Driver]
