"""The driver seam: the one interface a transport implements (public, for driver authors).

A driver moves opaque bytes between addresses. It knows exchanges, queues and
routing; it knows nothing of endpoints, versions, contexts or errors' meaning.
Every body it carries was produced by ``aionova.rpc``'s codec and is handed back
unchanged, so every driver runs the same codec and error round-trip.

The seam is six names: ``Driver`` (the transport), ``Listener`` (what
``Driver.listen`` returns), ``Delivery`` (one received message),
``MessageHandler`` and ``ReplyHandler`` (the callbacks a driver is given) and
``DriverFactory`` (``url -> Driver``, what a driver registers). A driver is
registered under the ``aionova.rpc.drivers`` entry-point group with its URL
scheme as the name (``mybus = "mypackage.driver:MyDriver"``), or used without
registration as ``aionova.rpc.Transport(MyDriver(...))``. It proves itself with
the conformance kit in ``aionova.rpc.testing``.

Contract (every driver MUST):

* Connect lazily: the factory only parses the URL (a malformed one raises
  ``ValueError`` or ``MessagingException``); nothing touches the network before
  the first ``send``, ``reply``, ``reply_address`` or ``listen``.
* Route as RabbitMQ with oslo.messaging's topology does. For a listen target
  ``(exchange, topic, server)`` the driver consumes three queues: the shared
  ``topic`` queue (competing consumers: each message goes to exactly one
  listener of the topic), the ``topic.server`` queue (only that server) and a
  private fanout queue (every listener of the topic gets a copy).
  ``send`` to a target with ``fanout`` goes to every listener of the topic; with
  ``server`` to that server's queue; otherwise to the shared topic queue.
  ``exchange`` None means the driver's control exchange; listeners on another
  exchange never see messages sent to this one.
* Keep messages published to a queue that exists but has no consumer until a
  consumer attaches; drop (or, with ``mandatory``, raise ``MessageUndeliverable``)
  messages for which no queue exists. Fanout is never mandatory.
* ``send``'s ``timeout`` (calls only) is the message's time to live and bounds
  the coroutine: it returns or raises ``MessagingTimeout`` within it.
* Replies: ``reply_address(on_reply)`` creates the driver's one reply queue
  (once; later callers get the same name) and passes every body published to
  it to the first caller's ``on_reply``; ``reply(reply_to, body)`` publishes to
  such a name, from any driver on the same bus or broker. A driver whose
  reply address can change while it runs (RabbitMQ's direct reply-to names
  it after one connection) also offers ``current_reply_address() -> str |
  None``: the address to put in a request now, or None while it has none
  (the caller then awaits ``reply_address`` again, which waits for the new one).
* Call ``on_message``/``on_reply`` once per delivery, from the event loop, never
  concurrently with itself for one listener, and never block in it. The handlers
  do not raise; they hand the work off.
* Call ``Delivery.done()``'s coroutine exactly once per delivery handed out
  (the server does this after processing); drivers that acknowledge on receipt
  may return None from it. A delivery whose processing was cancelled (a server
  aborted, as in a crash) is never done.
* Bound the work in flight when ``listen`` is given a ``window``: hand
  ``on_message`` at most ``window`` deliveries that are not yet done; the
  others wait in the broker's queue (unacknowledged) until one is done, so a
  burst grows no listener's memory and a crash loses no more than the window.
  An at-most-once driver acknowledges a windowed delivery when it hands it
  over, an at-least-once driver in ``done()`` (then a crash loses nothing:
  the broker delivers it again). ``window`` None is oslo.messaging's
  delivery: everything is handed over as it arrives.
* ``Listener.stop()``: ``on_message`` is not called again once it returns;
  ``Listener.close()`` also releases what the subscription declared for itself
  (its fanout queue). ``Driver.close()`` closes connections and cancels every
  task the driver owns; it is idempotent.
* Map its library's exceptions to ``aionova.rpc.errors`` (``MessageDeliveryFailure``,
  ``MessageUndeliverable``, ``MessagingTimeout``, ``TransportError``): nothing
  else escapes.
* Bound every wait: ``retry`` None or -1 means retry publishing forever, 0 one
  attempt, N means N+1 attempts, then ``MessageDeliveryFailure``.

Notifications (``NotificationDriver``, implemented by both built-in drivers):

* ``notify(target, body)`` publishes to ``target.exchange`` (None: the control
  exchange, a topic exchange) with routing key ``target.topic``, which the
  notifier makes ``<topic>.<priority>``. On the first publish to a key (again
  after a reconnect) the driver declares a queue named after the key, bound
  to it with oslo.messaging's flags, so notifications wait for a consumer.
* ``listen_for_notifications(targets_and_priorities, pool, on_message)``
  consumes ``<topic>.<priority>`` of every pair. Without a pool each key's
  queue is the one named after it, shared by every pool-less listener
  (competing consumers); with ``pool=NAME`` one queue named ``NAME`` is bound
  to every key, so each pool gets every message once. ``transient=True`` makes
  the pool queue the subscription's own: it expires when unused and is
  deleted by ``close()`` (a watcher that must not leave a queue behind).
* Every notification is handed over as a ``RequeueableDelivery``: the listener
  calls exactly one of ``done()`` (acknowledge) or ``requeue()`` (give it back
  to the queue, to be delivered again, possibly to another consumer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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


@runtime_checkable
class RequeueableDelivery(Delivery, Protocol):
    """A received notification: settled by ``done()`` (ack) or by ``requeue()``."""

    def requeue(self) -> Awaitable[None] | None:
        """Return the message to its queue instead of acknowledging it."""


MessageHandler = Callable[[Delivery], None]
NotificationHandler = Callable[[RequeueableDelivery], None]
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


@runtime_checkable
class NotificationDriver(Protocol):
    """What a driver adds to carry notifications (see the contract above)."""

    async def notify(self, target: Target, body: bytes, *, retry: int | None = None) -> None:
        """Publish one notification to ``(target.exchange, target.topic)``."""

    async def listen_for_notifications(
        self,
        targets_and_priorities: Sequence[tuple[Target, str]],
        pool: str | None,
        on_message: NotificationHandler,
        *,
        transient: bool = False,
    ) -> Listener:
        """Consume the ``<topic>.<priority>`` queues of the pairs (or the pool's queue)."""


DriverFactory = Callable[[str], Driver]
