"""RPCClient: cast and call to a target, with version caps and timeouts."""

from __future__ import annotations

from typing import Any, Final

from aionova.rpc import _envelope as envelope
from aionova.rpc import _version as versions
from aionova.rpc._serializer import NoOpSerializer, Serializer
from aionova.rpc._target import Target
from aionova.rpc._transport import Transport, TransportOptions
from aionova.rpc.errors import InvalidTarget, MalformedMessage, RPCVersionCapError

_TARGET_FIELDS: Final = ("exchange", "topic", "namespace", "version", "server", "fanout")
_OPTION_FIELDS: Final = (
    "timeout",
    "version_cap",
    "retry",
    "call_monitor_timeout",
    "transport_options",
)


class RPCClient:
    """Sends requests to ``target``. Immutable: ``prepare()`` returns a new client.

    ``timeout`` None uses the transport's response timeout (60 s by default);
    ``version_cap`` limits the versions this client may send (checked at
    cast/call time, before anything is sent); ``retry`` is passed to the driver
    (None: forever, 0: one attempt, N: N+1 attempts); ``call_monitor_timeout``
    asks the server for heartbeats so long calls survive while it is alive;
    ``transport_options`` (``TransportOptions(at_least_once=True)``) makes a
    request no queue can take fail with ``MessageUndeliverable``.
    """

    __slots__ = (
        "_noop",
        "call_monitor_timeout",
        "retry",
        "serializer",
        "target",
        "timeout",
        "transport",
        "transport_options",
        "version_cap",
    )

    def __init__(
        self,
        transport: Transport,
        target: Target,
        *,
        timeout: float | None = None,
        version_cap: str | None = None,
        serializer: Serializer | None = None,
        retry: int | None = None,
        call_monitor_timeout: float | None = None,
        transport_options: TransportOptions | None = None,
    ) -> None:
        self.transport = transport
        self.target = target
        self.timeout = timeout
        self.version_cap = version_cap
        self.serializer: Serializer = serializer or NoOpSerializer()
        self._noop = type(self.serializer) is NoOpSerializer
        self.retry = retry
        self.call_monitor_timeout = call_monitor_timeout
        self.transport_options = transport_options

    def prepare(self, **overrides: Any) -> RPCClient:
        """A client with some target fields or options replaced.

        Accepts exchange, topic, namespace, version, server, fanout, timeout,
        version_cap, retry, call_monitor_timeout and transport_options; an
        explicit None clears an inherited value. A malformed version raises
        MessagingException.
        """
        unknown = set(overrides) - {*_TARGET_FIELDS, *_OPTION_FIELDS}
        if unknown:
            raise TypeError(f"prepare() got unexpected arguments {sorted(unknown)}")
        if overrides.get("version") is not None:
            versions.validate(overrides["version"])
        target_changes = {k: overrides[k] for k in _TARGET_FIELDS if k in overrides}
        target = self.target(**target_changes) if target_changes else self.target
        options = {k: overrides.get(k, getattr(self, k)) for k in _OPTION_FIELDS}
        return RPCClient(self.transport, target, serializer=self.serializer, **options)

    def can_send_version(self, version: str | object | None = ...) -> bool:
        """Whether ``version`` (default: the target's) is allowed by the version cap."""
        if version is ...:
            wanted = self.target.version
        else:
            wanted = None if version is None else versions.validate(version)
        return versions.is_compatible(self.version_cap, wanted)

    @property
    def _mandatory(self) -> bool:
        options = self.transport_options
        return options is not None and options.at_least_once and not self.target.fanout

    def _encode(self, ctxt: Any, method: str, kwargs: dict[str, Any], **call: Any) -> bytes:
        target = self.target
        serializer = self.serializer
        if not self._noop:
            kwargs = {k: serializer.serialize_entity(ctxt, v) for k, v in kwargs.items()}
        context = ctxt if self._noop and type(ctxt) is dict else serializer.serialize_context(ctxt)
        if self.version_cap is not None and not versions.is_compatible(
            self.version_cap, target.version
        ):
            raise RPCVersionCapError(target.version, self.version_cap)
        try:
            return envelope.encode_request(
                method,
                kwargs,
                context,
                namespace=target.namespace,
                version=target.version,
                **call,
            )
        except MalformedMessage as exc:
            raise TypeError(f"cannot send {method}: {exc}") from exc.__cause__

    async def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        """Send ``method(**kwargs)`` without waiting for a result (at most once)."""
        body = self._encode(ctxt, method, kwargs)
        await self.transport._cast(self.target, body, self.retry, mandatory=self._mandatory)

    async def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        """Invoke ``method(**kwargs)`` remotely and return its result (at most once).

        Raises the remote exception (rebuilt or as RemoteError), MessagingTimeout,
        InvalidTarget for a fanout target, RPCVersionCapError before sending.
        The timeout bounds the whole call: setting up the reply queue on first
        use (connecting included), publishing, and waiting for the reply.
        """
        if self.target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", self.target)
        transport = self.transport
        timeout = self.timeout if self.timeout is not None else transport.response_timeout
        msg_id = envelope.new_id()
        reply_q = transport._replies.known_address
        if reply_q is None:  # the first call sets up the reply queue within its own timeout
            reply_q, timeout = await transport._reply_address_within(timeout)
        body = self._encode(
            ctxt,
            method,
            kwargs,
            msg_id=msg_id,
            reply_q=reply_q,
            call_monitor_timeout=self.call_monitor_timeout,
        )
        result = await transport._call(
            self.target,
            msg_id,
            body,
            timeout=timeout,
            monitor=self.call_monitor_timeout,
            retry=self.retry,
            mandatory=self._mandatory,
        )
        if self._noop:
            return result
        return self.serializer.deserialize_entity(ctxt, result)


def get_rpc_client(
    transport: Transport,
    target: Target,
    *,
    client_cls: type[RPCClient] = RPCClient,
    timeout: float | None = None,
    version_cap: str | None = None,
    serializer: Serializer | None = None,
    retry: int | None = None,
    call_monitor_timeout: float | None = None,
    transport_options: TransportOptions | None = None,
) -> RPCClient:
    """A client for ``target``: oslo.messaging's preferred constructor.

    Takes ``RPCClient``'s keywords (an unknown one is a ``TypeError``);
    ``client_cls`` builds a subclass instead.
    """
    if not (isinstance(client_cls, type) and issubclass(client_cls, RPCClient)):
        raise TypeError(f"client_cls must be RPCClient or a subclass, not {client_cls!r}")
    return client_cls(
        transport,
        target,
        timeout=timeout,
        version_cap=version_cap,
        serializer=serializer,
        retry=retry,
        call_monitor_timeout=call_monitor_timeout,
        transport_options=transport_options,
    )
