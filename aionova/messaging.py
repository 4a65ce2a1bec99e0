"""Glue between aionova and ``aionova.rpc``: transports, clients, servers and notifiers
built the same way everywhere (aionova's exceptions rebuilt on the caller, objects bound
to the store of the service that receives them). Message counts are the transport's:
``statistics()``."""

from __future__ import annotations

from typing import Any

import msgspec

from aionova import rpc
from aionova.config import Config
from aionova.exception import ALLOWED_EXMODS
from aionova.notifications import Notifications
from aionova.notifications.service import ServiceNotifications
from aionova.objects.serializer import ObjectSerializer
from aionova.objects.store import ObjectStore


def get_transport(url: str) -> rpc.Transport:
    """A transport whose clients rebuild aionova's exceptions."""
    return rpc.get_rpc_transport(url, allowed_remote_exmods=list(ALLOWED_EXMODS))


def get_notifier(
    config: Config, transport: rpc.Transport | None, *, host: str, binary: str
) -> ServiceNotifications:
    """The notifications of ``binary`` on ``host``, as ``[notifications]`` and
    ``[oslo_messaging_notifications]`` say.

    They travel on ``transport`` (the service's RPC transport, on the control exchange)
    unless ``transport_url`` names another broker: then the emitter opens a transport
    of its own (closed by its ``stop()``). No transport (a manager built without one)
    means no notifications. An unknown driver name raises ``DriverLoadFailure``.
    """
    opts, messaging = config.notifications, config.oslo_messaging_notifications
    # The legacy image_ref_url: the image endpoint the API serves (``<public_url>/image``)
    public = config.api.public_url
    images = f"{public.rstrip('/')}/image" if public else None
    if messaging.enabled and messaging.transport_url:
        emitter = Notifications.from_settings(
            opts,
            messaging,
            rpc_transport_url=config.rpc_transport_url(),
            host=host,
            binary=binary,
            control_exchange=config.DEFAULT.control_exchange,
            image_api_url=images,
        )
        return ServiceNotifications(emitter)
    if transport is None:
        messaging = msgspec.structs.replace(messaging, driver=[])
    emitter = Notifications(
        transport,
        host=host,
        binary=binary,
        notifications=opts,
        messaging=messaging,
        image_api_url=images,
    )
    return ServiceNotifications(emitter)


def get_client(
    transport: rpc.Transport,
    target: rpc.Target,
    *,
    store: ObjectStore | None = None,
    version_cap: str | None = None,
    timeout: float | None = None,
) -> rpc.RPCClient:
    """An RPC client with the object serializer (objects it receives bound to ``store``)."""
    return rpc.RPCClient(
        transport,
        target,
        timeout=timeout,
        version_cap=version_cap,
        serializer=ObjectSerializer(store),
    )


def get_server(
    transport: rpc.Transport,
    target: rpc.Target,
    endpoints: list[Any],
    *,
    store: ObjectStore | None = None,
    max_concurrency: int = 64,
) -> rpc.RPCServer:
    """An RPC server whose incoming objects are bound to ``store``."""
    return rpc.get_rpc_server(
        transport,
        target,
        endpoints,
        serializer=ObjectSerializer(store),
        max_concurrency=max_concurrency,
    )
