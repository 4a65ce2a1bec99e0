"""Nova's notifications from aionova's objects: settings, payloads and the emitter.

Each service (compute, conductor, API) holds a ``ServiceNotifications``
(service.py, built by ``aionova.messaging.get_notifier`` from ``[notifications]``
and ``[oslo_messaging_notifications]``) and calls it where Nova emits.
"""

from aionova.notifications.emitter import Notifications
from aionova.notifications.settings import (
    NOVA_CONTROL_EXCHANGE,
    NotificationsOpts,
    OsloMessagingNotificationsOpts,
    notification_transport_url,
)

__all__ = [
    "NOVA_CONTROL_EXCHANGE",
    "Notifications",
    "NotificationsOpts",
    "OsloMessagingNotificationsOpts",
    "notification_transport_url",
]
