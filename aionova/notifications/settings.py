"""Notification settings with Nova's names, as msgspec Structs for ``aionova.config``.

``[notifications]`` (Nova's group) says which formats are emitted and on
which topics the versioned ones go; ``[oslo_messaging_notifications]``
(oslo.messaging's group) says how: drivers (an empty list turns
notifications off), the legacy topics, the transport (default: the RPC
one) and the publish retry budget. The control plane's control exchange is
Nova's ``nova`` for RPC and notifications alike.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

NOVA_CONTROL_EXCHANGE = "nova"

NotificationFormat = Literal["unversioned", "versioned", "both"]
StateChange = Literal["vm_state", "vm_and_task_state"]
# The names ``aionova.rpc.Notifier`` loads (checked against it by a test): an unknown
# name in a settings file fails when the settings are read, before anything starts.
NotificationDriverName = Literal["messagingv2", "messaging", "log", "noop"]


class NotificationsOpts(msgspec.Struct, kw_only=True, frozen=True):
    """The ``[notifications]`` group (Nova's names and defaults)."""

    notification_format: NotificationFormat = "unversioned"
    versioned_notifications_topics: list[str] = msgspec.field(
        default_factory=lambda: ["versioned_notifications"]
    )
    notify_on_state_change: StateChange | None = None  # None: no instance.update events

    @property
    def legacy(self) -> bool:
        return self.notification_format in ("unversioned", "both")

    @property
    def versioned(self) -> bool:
        return self.notification_format in ("versioned", "both")


class OsloMessagingNotificationsOpts(msgspec.Struct, kw_only=True, frozen=True):
    """The ``[oslo_messaging_notifications]`` group.

    ``driver`` defaults to ``["messagingv2"]`` (oslo.messaging's default is
    empty, which is off; aionova emits unless told not to); ``[]`` turns every
    notification off. ``retry`` -1 retries until the broker is back; the
    emitter's bounded queue keeps that from ever blocking an operation.
    """

    driver: list[NotificationDriverName] = msgspec.field(default_factory=lambda: ["messagingv2"])
    topics: list[str] = msgspec.field(default_factory=lambda: ["notifications"])
    transport_url: str | None = None
    retry: int = -1

    @property
    def enabled(self) -> bool:
        return bool(self.driver)


def with_control_exchange(url: str, exchange: str = NOVA_CONTROL_EXCHANGE) -> str:
    """``url`` with ``control_exchange=<exchange>`` unless it names one already."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "control_exchange" for key, _ in query):
        return url
    query.append(("control_exchange", exchange))
    return urlunsplit(parts._replace(query=urlencode(query)))


def notification_transport_url(
    opts: OsloMessagingNotificationsOpts,
    rpc_transport_url: str,
    control_exchange: str = NOVA_CONTROL_EXCHANGE,
) -> str:
    """Where notifications go: ``transport_url`` or the RPC transport, on ``control_exchange``."""
    return with_control_exchange(opts.transport_url or rpc_transport_url, control_exchange)
