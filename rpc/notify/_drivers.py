"""The notifier's drivers, chosen by name: ``messagingv2``, ``messaging``, ``log``, ``noop``.

A driver receives the redacted, serialized context, the inner message and the
priority (upper case). The messaging drivers publish one copy per topic, to
``<topic>.<priority lower-case>`` on the transport's control exchange; a copy
that cannot be published is logged and the other topics still get theirs.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

from aionova.rpc._target import Target
from aionova.rpc._transport import Transport
from aionova.rpc.driver import NotificationDriver
from aionova.rpc.errors import DriverLoadFailure, MessagingException
from aionova.rpc.notify import _wire as wire

LOG = logging.getLogger(__name__)

#: oslo.messaging's logger base, kept so existing logging configurations apply.
LOGGER_BASE: Final = "oslo.messaging.notification"
_LEVELS: Final = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
_SECRET_KEYS: Final = (
    "password",
    "adminpass",
    "admin_pass",
    "new_pass",
    "token",
    "secret",
    "passphrase",
    "private_key",
    "encrypted_key",
    "configdrive",
)


class Driver(Protocol):
    """One way of emitting notifications."""

    async def notify(
        self, ctxt: dict[str, Any], message: dict[str, Any], priority: str, retry: int | None
    ) -> None: ...


class MessagingDriver:
    """Publishes through the transport; ``enveloped`` False is the 1.0 format."""

    def __init__(self, transport: Transport, topics: Sequence[str], *, enveloped: bool) -> None:
        driver = transport._driver
        if not isinstance(driver, NotificationDriver):
            raise DriverLoadFailure(
                f"the {type(driver).__name__} transport cannot carry notifications"
            )
        self._driver: NotificationDriver = driver
        self.topics = tuple(topics)
        self.enveloped = enveloped

    async def notify(
        self, ctxt: dict[str, Any], message: dict[str, Any], priority: str, retry: int | None
    ) -> None:
        body = wire.encode(message, ctxt, enveloped=self.enveloped)
        suffix = priority.lower()
        for topic in self.topics:
            target = Target(topic=f"{topic}.{suffix}")
            try:
                await self._driver.notify(target, body, retry=retry)
            except MessagingException as exc:
                LOG.error(
                    "Could not send notification %s to %s: %s",
                    message.get("event_type"),
                    target.topic,
                    exc,
                )


class LogDriver:
    """Logs each notification as JSON (secrets masked) at its priority's level.

    The logger is ``oslo.messaging.notification.<event_type>``. ``AUDIT`` and
    ``SAMPLE`` have no logging level: those are not logged (a warning says so).
    """

    async def notify(
        self, ctxt: dict[str, Any], message: dict[str, Any], priority: str, retry: int | None
    ) -> None:
        level = _LEVELS.get(priority.upper())
        if level is None:
            warnings.warn(
                f"the log notification driver cannot log priority {priority.lower()!r}",
                stacklevel=2,
            )
            return
        logger = logging.getLogger(f"{LOGGER_BASE}.{message.get('event_type')}")
        if logger.isEnabledFor(level):
            logger.log(level, json.dumps(mask_secrets(message), default=str))


class NoOpDriver:
    """Sends nothing (notifications configured off)."""

    async def notify(
        self, ctxt: dict[str, Any], message: dict[str, Any], priority: str, retry: int | None
    ) -> None:
        return None


def mask_secrets(value: Any) -> Any:
    """A copy with the values of secret-looking keys (passwords, tokens …) masked."""
    if isinstance(value, Mapping):
        return {k: "***" if _is_secret(k) else mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    return value


def _is_secret(key: Any) -> bool:
    low = str(key).lower()
    return any(word in low for word in _SECRET_KEYS)


Factory = Callable[[Transport, Sequence[str]], Driver]

DRIVERS: Final[Mapping[str, Factory]] = {
    "messagingv2": lambda transport, topics: MessagingDriver(transport, topics, enveloped=True),
    "messaging": lambda transport, topics: MessagingDriver(transport, topics, enveloped=False),
    "log": lambda transport, topics: LogDriver(),
    "noop": lambda transport, topics: NoOpDriver(),
}


def load(names: Sequence[str], transport: Transport, topics: Sequence[str]) -> dict[str, Driver]:
    """The drivers named (duplicates once), or ``DriverLoadFailure`` for an unknown name."""
    unknown = [name for name in names if name not in DRIVERS]
    if unknown:
        raise DriverLoadFailure(
            f"unknown notification driver(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(DRIVERS))}"
        )
    return {name: DRIVERS[name](transport, topics) for name in dict.fromkeys(names)}
