"""Notifier: oslo.messaging's sending half of notifications, awaited instead of blocking."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Final

from aionova.rpc._serializer import NoOpSerializer, Serializer
from aionova.rpc._transport import Transport, driver_for
from aionova.rpc.notify import _drivers
from aionova.rpc.notify import _wire as wire

LOG = logging.getLogger(__name__)

DEFAULT_DRIVER: Final = "messagingv2"
DEFAULT_TOPICS: Final = ("notifications",)
_UNSET: Any = object()


def get_notification_transport(url: str, *, allowed_remote_exmods: Iterable[str] = ()) -> Transport:
    """A transport for notifications (``memory://…``, ``rabbit://…``).

    Notifications may travel on another broker than RPC (Nova's
    ``[oslo_messaging_notifications] transport_url``); the URL's
    ``control_exchange`` query option names the exchange (default ``openstack``).
    """
    return Transport(driver_for(url), url=url, allowed_remote_exmods=allowed_remote_exmods)


def redact(ctxt: Any, serializer: Serializer) -> dict[str, Any]:
    """The context as it may travel: no ``auth_token`` value, ever.

    An object context goes through its ``redacted_copy()`` when it has one (as
    oslo.messaging does since 14.4), then the serializer; a dict context loses
    its ``auth_token`` key. Whatever the serializer returns, a non-null
    ``auth_token`` is dropped.
    """
    if ctxt is None:
        return {}
    if isinstance(ctxt, dict):
        ctxt = {k: v for k, v in ctxt.items() if k != "auth_token"}
    else:
        redacted_copy = getattr(ctxt, "redacted_copy", None)
        if callable(redacted_copy):
            ctxt = redacted_copy()
    values = serializer.serialize_context(ctxt)
    if values.get("auth_token") is not None:
        values = {k: v for k, v in values.items() if k != "auth_token"}
    return values


class Notifier:
    """Sends notifications through one or more drivers.

    ``driver`` is a name or a list of names (``messagingv2``, ``messaging``,
    ``log``, ``noop``); an unknown name raises ``DriverLoadFailure`` here.
    ``driver=None`` means ``messagingv2``: oslo.messaging falls back to its
    ``[oslo_messaging_notifications] driver`` option, whose default is empty
    (nothing is sent), but this library has no global configuration, and a
    Notifier built without a driver is meant to notify. ``topics=None`` means
    ``["notifications"]``. ``retry`` is the publish budget (None or -1: retry
    until the broker is back, 0: one attempt, N: N+1 attempts).

    Sending never raises: a notification that cannot be encoded or published
    is logged and dropped, as oslo.messaging does. ``prepare()`` gives a
    notifier with another publisher id or retry that shares the drivers.
    """

    def __init__(
        self,
        transport: Transport,
        publisher_id: str | None = None,
        driver: str | Sequence[str] | None = None,
        serializer: Serializer | None = None,
        retry: int | None = None,
        topics: Sequence[str] | None = None,
    ) -> None:
        self.transport = transport
        self.publisher_id = publisher_id
        self.retry = retry
        if driver is None:
            driver = DEFAULT_DRIVER
        names = [driver] if isinstance(driver, str) else list(driver)
        self._topics = tuple(DEFAULT_TOPICS if topics is None else topics)
        self._serializer: Serializer = serializer or NoOpSerializer()
        self._drivers = _drivers.load(names, transport, self._topics)

    @property
    def topics(self) -> tuple[str, ...]:
        return self._topics

    @property
    def driver_names(self) -> list[str]:
        return list(self._drivers)

    def is_enabled(self) -> bool:
        """False when the notifier emits nowhere (only ``noop`` drivers)."""
        return any(name != "noop" for name in self._drivers)

    def prepare(self, publisher_id: str | None = _UNSET, retry: int | None = _UNSET) -> Notifier:
        """A notifier sharing these drivers, with another publisher id and/or retry."""
        sub = copy.copy(self)
        if publisher_id is not _UNSET:
            sub.publisher_id = publisher_id
        if retry is not _UNSET:
            sub.retry = retry
        return sub

    async def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str) -> None:
        try:
            payload = self._serializer.serialize_entity(ctxt, payload)
            values = redact(ctxt, self._serializer)
        except Exception:
            LOG.exception("Could not serialize notification %s; not sent", event_type)
            return
        message = wire.build_message(self.publisher_id, event_type, priority, payload)
        for name, driver in self._drivers.items():
            try:
                await driver.notify(values, message, priority, self.retry)
            except Exception as exc:
                LOG.exception(
                    "Problem '%s' attempting to send %s to the %s notification driver",
                    exc,
                    event_type,
                    name,
                )

    async def audit(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a notification at audit level."""
        await self._notify(ctxt, event_type, payload, "AUDIT")

    async def debug(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a notification at debug level."""
        await self._notify(ctxt, event_type, payload, "DEBUG")

    async def info(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a notification at info level."""
        await self._notify(ctxt, event_type, payload, "INFO")

    async def warn(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a notification at warning level (priority ``WARN``)."""
        await self._notify(ctxt, event_type, payload, "WARN")

    warning = warn

    async def error(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a notification at error level."""
        await self._notify(ctxt, event_type, payload, "ERROR")

    async def critical(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a notification at critical level."""
        await self._notify(ctxt, event_type, payload, "CRITICAL")

    async def sample(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a notification at sample level (frequent, small: "CPU = 70%")."""
        await self._notify(ctxt, event_type, payload, "SAMPLE")

    def __repr__(self) -> str:
        return f"<Notifier {self.publisher_id!r} drivers={self.driver_names} topics={self.topics}>"
