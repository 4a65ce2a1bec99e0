"""Nova's notifications from aionova's objects: settings, payloads and the emitter.

Not wired into the services yet: a service builds ``Notifications.from_settings``
and calls ``notify_about_*`` where Nova does.
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
