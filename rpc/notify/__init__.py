"""Notifications: oslo.messaging's other half (``Notifier`` and notification listeners).

The names are re-exported by ``aionova.rpc``; import them from there.
"""

from aionova.rpc.notify._batch import BatchNotificationListener, get_batch_notification_listener
from aionova.rpc.notify._dispatcher import NotificationResult
from aionova.rpc.notify._filter import NotificationFilter
from aionova.rpc.notify._listener import NotificationListener, get_notification_listener
from aionova.rpc.notify._notifier import Notifier, get_notification_transport

__all__ = [
    "BatchNotificationListener",
    "NotificationFilter",
    "NotificationListener",
    "NotificationResult",
    "Notifier",
    "get_batch_notification_listener",
    "get_notification_listener",
    "get_notification_transport",
]
