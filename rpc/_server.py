"""RPCServer: consume a target's queues, dispatch, reply; drain on stop.

Lifecycle, as oslo.messaging: ``start()`` subscribes (a second start while
running only warns); ``stop()`` stops consuming and returns at once, while
messages already received still run; ``wait()`` returns when every one of them
has finished and replied, then releases the subscription. After ``wait()`` the
server may be started again. ``abort()`` is the crash path: it cancels what is
running instead of draining it.

Work in flight is bounded (``bounded_backlog``, the default): the driver hands
the server at most ``max_concurrency`` messages it has not finished; the rest
wait in the broker's queue, where a burst costs the server no memory and a
crash loses at most those messages (none with RabbitMQ's at-least-once mode,
which acknowledges after processing). ``bounded_backlog=False`` is
oslo.messaging's delivery: every message is taken (and, on RabbitMQ,
acknowledged) as it arrives and waits in the server's memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from aionova.rpc import _envelope as envelope
from aionova.rpc import _failures as failures
from aionova.rpc._dispatcher import Dispatcher, Method
from aionova.rpc._endpoint import RPCAccessPolicyBase
from aionova.rpc._serializer import NoOpSerializer, Serializer
from aionova.rpc._target import Target
from aionova.rpc._transport import Transport
from aionova.rpc.driver import Delivery, Listener
from aionova.rpc.errors import (
    ExpectedException,
    InvalidTarget,
    MalformedMessage,
    RPCDispatcherError,
)

LOG = logging.getLogger(__name__)

DEFAULT_MAX_CONCURRENCY = 64
PING_METHOD = "oslo_rpc_server_ping"


class PingEndpoint:
    """Answers oslo.messaging's liveness probe (null namespace, version 1.0)."""

    def oslo_rpc_server_ping(self, ctxt: Any, **kwargs: Any) -> str:
        return "pong"


_DUPLICATE_WINDOW = 16


class RPCServer:
    """Serves ``endpoints`` on ``target`` (topic and server required at start)."""

    def __init__(
        self,
        transport: Transport,
        target: Target,
        endpoints: Sequence[object],
        *,
        serializer: Serializer | None = None,
        access_policy: type[RPCAccessPolicyBase] | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        ping_enabled: bool = False,
        bounded_backlog: bool = True,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.transport = transport
        self.target = target
        if ping_enabled and not any(hasattr(e, PING_METHOD) for e in endpoints):
            endpoints = [*endpoints, PingEndpoint()]
        self.dispatcher = Dispatcher(endpoints, access_policy)
        self.serializer: Serializer = serializer or NoOpSerializer()
        self._noop = type(self.serializer) is NoOpSerializer
        self.max_concurrency = max_concurrency
        self.bounded_backlog = bounded_backlog
        self._listener: Listener | None = None
        self._running = False
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._backlog: collections.deque[Delivery] = collections.deque()
        self._seen: collections.deque[str] = collections.deque(maxlen=_DUPLICATE_WINDOW)
        self._lock = asyncio.Lock()
        self._context = contextvars.copy_context()

    def __repr__(self) -> str:
        return f"<RPCServer {self.target!r}>"

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        """Subscribe to the target's topic, server and fanout queues."""
        async with self._lock:
            if self._running:
                LOG.warning("%r: start() called while running; ignored", self)
                return
            if not self.target.topic or not self.target.server:
                raise InvalidTarget(
                    "A server's target must have topic and server names specified", self.target
                )
            self._stopped.clear()
            self._context = contextvars.copy_context()
            window = self.max_concurrency if self.bounded_backlog else None
            self._listener = await self.transport._driver.listen(
                self.target, self._on_message, window=window
            )
            self._running = True

    async def stop(self) -> None:
        """Stop consuming; what was already received keeps running. Idempotent."""
        async with self._lock:
            if not self._running:
                return
            self._running = False
            if self._listener is not None:
                await self._listener.stop()
            self._stopped.set()

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for stop(), then for everything received to finish and reply."""
        async with asyncio.timeout(timeout):
            if self._running:
                await self._stopped.wait()
            while self._tasks or self._backlog:
                if not self._tasks:  # no worker left to take the backlog
                    self._on_message(self._backlog.popleft())
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self._release()

    async def abort(self) -> None:
        """Stop consuming and cancel every running dispatch (a crash, not a drain)."""
        self._backlog.clear()
        await self.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._release()

    async def _release(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    async def __aenter__(self) -> RPCServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        await self.wait()

    # -- per message -----------------------------------------------------
    # The hot path: up to ``max_concurrency`` worker tasks, few frames,
    # nothing computed twice. A message gets a new task while there is room;
    # otherwise it waits in the backlog and a worker that finishes a message
    # takes the next one itself, as a thread of an executor pool would. (A new
    # task per backlog message costs far more than the task: it goes to the end
    # of the loop's ready queue, away from the work that just ran.)
    # Each task starts from a copy of the server's own context, so handlers
    # never see the caller's context variables (on memory:// the delivery
    # callback runs inside the caller's publish). Variables a handler sets stay
    # visible to the later messages of its worker, like thread-locals.

    def _on_message(self, delivery: Delivery) -> None:
        if len(self._tasks) < self.max_concurrency:
            task = asyncio.get_running_loop().create_task(
                self._handle(delivery), context=self._context.copy()
            )
            self._tasks.add(task)
        else:
            self._backlog.append(delivery)

    async def _handle(self, delivery: Delivery) -> None:
        backlog = self._backlog
        try:
            while True:
                try:
                    await self._serve(delivery.body)
                except Exception:
                    # A worker outlives any one message: the backlog depends on it.
                    LOG.exception("%r: serving a message failed; dropped", self)
                # Settled once processed; a dispatch cancelled by abort() is not
                # (a crash: an at-least-once broker delivers it again).
                await self._settle(delivery)
                if not backlog:
                    return
                delivery = backlog.popleft()
        finally:
            self._tasks.discard(asyncio.current_task())

    async def _settle(self, delivery: Delivery) -> None:
        # A worker must outlive a failed ack: the backlog depends on it.
        try:
            settled = delivery.done()
            if settled is not None:
                await settled
        except Exception:
            LOG.exception("%r: could not settle a message", self)

    async def _serve(self, body: bytes) -> None:
        try:
            request = envelope.decode_request(body)
        except MalformedMessage as exc:
            await self._refuse(exc)
            return
        self.transport._received(bool(request.msg_id))
        unique_id = request.unique_id
        if unique_id is not None:
            if unique_id in self._seen:
                LOG.info("%r: dropped duplicate message %s", self, unique_id)
                return
            self._seen.append(unique_id)
        heartbeat = self._start_heartbeat(request) if request.client_timeout else None
        try:
            method = self.dispatcher.lookup(request.namespace, request.version, request.method)
            if self._noop:
                result = method.func(request.context, **request.args)
                if method.is_async:
                    result = await result
            else:
                result = await self._invoke(method, request)
        except Exception as exc:
            self._log_failure(request, exc)
            if request.msg_id and request.reply_q:
                await self._reply_failure(request.msg_id, request.reply_q, exc)
            return
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
        if request.msg_id and request.reply_q:
            try:
                body = envelope.encode_reply(request.msg_id, result=result)
            except MalformedMessage as exc:
                LOG.error("%r: result of %s cannot be sent: %s", self, request.method, exc)
                error = TypeError(f"result of {request.method} cannot be encoded: {exc}")
                await self._reply_failure(request.msg_id, request.reply_q, error)
                return
            await self._send_reply(request.reply_q, body)

    async def _invoke(self, method: Method, request: envelope.Request) -> Any:
        serializer = self.serializer
        ctxt = serializer.deserialize_context(request.context)
        args = {k: serializer.deserialize_entity(ctxt, v) for k, v in request.args.items()}
        result = method.func(ctxt, **args)
        if method.is_async:
            result = await result
        return serializer.serialize_entity(ctxt, result)

    def _log_failure(self, request: envelope.Request, exc: Exception) -> None:
        if isinstance(exc, RPCDispatcherError):
            LOG.error("%r: %s", self, exc)
        elif isinstance(exc, ExpectedException):
            LOG.debug("%r: expected exception from %s", self, request.method, exc_info=True)
        else:
            LOG.error("%r: %s failed", self, request.method, exc_info=exc)

    async def _refuse(self, exc: MalformedMessage) -> None:
        LOG.error("%r: dropped a malformed message: %s", self, exc)
        msg_id, reply_q = exc.kwargs.get("msg_id"), exc.kwargs.get("reply_q")
        if msg_id and reply_q:
            await self._reply_failure(msg_id, reply_q, MalformedMessage(str(exc)))

    async def _reply_failure(self, msg_id: str, reply_q: str, exc: BaseException) -> None:
        if isinstance(exc, ExpectedException):
            exc = exc.exc_info[1] or exc
        try:
            body = envelope.encode_reply(msg_id, failure=failures.serialize(exc))
        except Exception:
            LOG.exception("%r: could not encode the failure for %s", self, msg_id)
            return
        await self._send_reply(reply_q, body)

    async def _send_reply(self, reply_q: str, body: bytes) -> None:
        try:
            await self.transport._reply(reply_q, body)
        except Exception:
            LOG.exception("%r: could not reply to %s", self, reply_q)

    def _start_heartbeat(self, request: envelope.Request) -> asyncio.Task[None] | None:
        if not (request.msg_id and request.reply_q):
            return None
        try:
            interval = int(request.client_timeout) / 2
        except (TypeError, ValueError):
            interval = 0
        if interval < 1:
            LOG.warning(
                "%r: call_monitor_timeout %r too small; no heartbeats", self, request.client_timeout
            )
            return None
        return asyncio.get_running_loop().create_task(self._heartbeat(request, interval))

    async def _heartbeat(self, request: envelope.Request, interval: float) -> None:
        assert request.msg_id is not None and request.reply_q is not None
        body = envelope.encode_reply(request.msg_id, ending=False)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.transport._reply(request.reply_q, body)
            except Exception as exc:
                LOG.info("%r: heartbeat failed, no more heartbeats: %s", self, exc)
                return


def get_rpc_server(
    transport: Transport,
    target: Target,
    endpoints: Sequence[object],
    *,
    serializer: Serializer | None = None,
    access_policy: type[RPCAccessPolicyBase] | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ping_enabled: bool = False,
    bounded_backlog: bool = True,
) -> RPCServer:
    """Build (not start) a server; endpoints are checked now, the target at start.

    ``max_concurrency`` bounds the dispatches running at once (oslo.messaging's
    executor pool, 64); ``ping_enabled`` adds ``oslo_rpc_server_ping`` unless an
    endpoint already has it (oslo.messaging's ``rpc_ping_enabled``).
    ``bounded_backlog`` (default True) keeps at most ``max_concurrency``
    messages received and unfinished; the rest wait in the broker (on
    RabbitMQ: a prefetch limit, each message acknowledged when a worker takes
    it, or after processing in at-least-once mode). False restores
    oslo.messaging's delivery: every message is taken as it arrives (on
    RabbitMQ acknowledged on receipt, no prefetch limit unless
    ``rabbit_qos_prefetch_count`` sets one) and waits in the server's memory,
    so a burst grows it without limit and a crash loses all of it.
    """
    return RPCServer(
        transport,
        target,
        endpoints,
        serializer=serializer,
        access_policy=access_policy,
        max_concurrency=max_concurrency,
        ping_enabled=ping_enabled,
        bounded_backlog=bounded_backlog,
    )
