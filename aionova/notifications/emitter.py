"""The control plane's notifier: Nova's instance and service events, never in the way.

A service builds one ``Notifications`` (``from_settings``) and calls its
``notify_about_*`` methods where Nova does. A call builds the payload at once
(the instance is read now, as it is now) and queues it; one task owned by the
emitter sends the queue in order. A call never awaits, never raises and never
blocks the operation: a payload that cannot be built is logged, a full queue
(the broker is down, ``retry`` -1 keeps the sender waiting) drops the
notification with a warning, and ``stop()`` sends what is queued within a bound.

Formats (``[notifications] notification_format``): ``unversioned`` sends the
legacy ``compute.instance.*`` events on ``[oslo_messaging_notifications]
topics`` with publisher ``<service>.<host>``; ``versioned`` the ``instance.*``,
``compute.exception`` and ``service.*`` events on
``versioned_notifications_topics`` with publisher ``<binary>:<host>``;
``both`` both. No drivers means nothing is sent (and no transport is opened).
"""

from __future__ import annotations

import logging
from typing import Any

from aionova import rpc
from aionova.context import RequestContext
from aionova.notifications import legacy, versioned
from aionova.notifications.sender import Pending, SendQueue
from aionova.notifications.settings import (
    NOVA_CONTROL_EXCHANGE,
    NotificationsOpts,
    OsloMessagingNotificationsOpts,
    notification_transport_url,
)
from aionova.objects import Instance, Service

LOG = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1000


class Notifications:
    """Emits Nova's notifications for one service (``binary`` on ``host``)."""

    def __init__(
        self,
        transport: rpc.Transport | None,
        *,
        host: str,
        binary: str = "nova-compute",
        notifications: NotificationsOpts | None = None,
        messaging: OsloMessagingNotificationsOpts | None = None,
        owns_transport: bool = False,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        image_api_url: str | None = None,
    ) -> None:
        self.opts = notifications or NotificationsOpts()
        self.messaging = messaging or OsloMessagingNotificationsOpts()
        self.host = host
        self.binary = binary
        self.image_api_url = image_api_url
        self._transport = transport
        self._owns_transport = owns_transport
        self._legacy: rpc.Notifier | None = None
        self._versioned: rpc.Notifier | None = None
        if self.messaging.enabled:
            if transport is None:
                raise ValueError("notifications are on but no transport was given")
            # An unknown driver name raises DriverLoadFailure here, at startup.
            retry = self.messaging.retry
            if self.opts.legacy:
                self._legacy = rpc.Notifier(
                    transport,
                    driver=self.messaging.driver,
                    topics=self.messaging.topics,
                    retry=retry,
                )
            if self.opts.versioned:
                self._versioned = rpc.Notifier(
                    transport,
                    driver=self.messaging.driver,
                    topics=self.opts.versioned_notifications_topics,
                    retry=retry,
                )
        self._sender = SendQueue(queue_size, f"notifications of {binary} on {host}")
        self._prepared: dict[tuple[int, str], rpc.Notifier] = {}

    @classmethod
    def from_settings(
        cls,
        notifications: NotificationsOpts,
        messaging: OsloMessagingNotificationsOpts,
        *,
        rpc_transport_url: str,
        host: str,
        binary: str = "nova-compute",
        control_exchange: str = NOVA_CONTROL_EXCHANGE,
        **kwargs: Any,
    ) -> Notifications:
        """An emitter with a transport of its own (closed by ``stop()``), or none when off.

        An unknown driver name raises ``DriverLoadFailure``; the transport made
        for it holds nothing yet (drivers connect on first use).
        """
        transport = None
        if messaging.enabled:
            url = notification_transport_url(messaging, rpc_transport_url, control_exchange)
            transport = rpc.get_notification_transport(url)
        return cls(
            transport,
            host=host,
            binary=binary,
            notifications=notifications,
            messaging=messaging,
            owns_transport=True,
            **kwargs,
        )

    @property
    def legacy_enabled(self) -> bool:
        return self._legacy is not None and self._legacy.is_enabled()

    @property
    def versioned_enabled(self) -> bool:
        return self._versioned is not None and self._versioned.is_enabled()

    # -- Nova's emitting functions ------------------------------------------

    def notify_about_instance_usage(
        self,
        ctxt: RequestContext | None,
        instance: Instance,
        event_suffix: str,
        *,
        extra_usage_info: dict[str, Any] | None = None,
        fault: BaseException | None = None,
        service: str = "compute",
        host: str | None = None,
    ) -> None:
        """Legacy ``compute.instance.<event_suffix>`` (ERROR for ``*.error``)."""
        if self._legacy is None:
            return
        try:
            extra = dict(extra_usage_info or {})
            if fault is not None:
                extra.update(legacy.fault_info(fault))
            payload = legacy.info_from_instance(instance, image_api_url=self.image_api_url, **extra)
        except Exception:
            LOG.exception("could not build compute.instance.%s for %s", event_suffix, instance.uuid)
            return
        priority = "error" if event_suffix.endswith("error") else "info"
        publisher = f"{service}.{host or self.host}"
        self._queue_one(
            self._legacy, publisher, ctxt, priority, f"compute.instance.{event_suffix}", payload
        )

    def notify_about_instance_action(
        self,
        ctxt: RequestContext | None,
        instance: Instance,
        action: str,
        phase: str | None = None,
        *,
        exception: BaseException | None = None,
        host: str | None = None,
        source: str | None = None,
    ) -> None:
        """Versioned ``instance.<action>[.<phase>]`` with InstanceActionPayload."""
        self._versioned_instance(
            versioned.action_payload, ctxt, instance, action, phase, exception, host, source
        )

    def notify_about_instance_create(
        self,
        ctxt: RequestContext | None,
        instance: Instance,
        phase: str,
        *,
        exception: BaseException | None = None,
        host: str | None = None,
    ) -> None:
        """Versioned ``instance.create.<phase>`` with InstanceCreatePayload."""
        self._versioned_instance(
            versioned.create_payload, ctxt, instance, "create", phase, exception, host, None
        )

    def notify_about_instance_rebuild(
        self,
        ctxt: RequestContext | None,
        instance: Instance,
        phase: str | None = None,
        *,
        action: str = "rebuild",
        exception: BaseException | None = None,
        host: str | None = None,
        source: str | None = None,
    ) -> None:
        """``instance.rebuild.<phase>`` (or ``instance.rebuild_scheduled`` from the
        conductor) with InstanceActionRebuildPayload."""
        self._versioned_instance(
            versioned.rebuild_payload, ctxt, instance, action, phase, exception, host, source
        )

    def notify_about_instance_update(
        self,
        ctxt: RequestContext | None,
        instance: Instance,
        *,
        old_vm_state: str | None,
        old_task_state: str | None,
        old_display_name: str | None = None,
        host: str | None = None,
        source: str | None = None,
    ) -> None:
        """``compute.instance.update`` and ``instance.update`` for a save of ``instance``
        (given its states before), as Nova's ``send_update``: nothing unless
        ``notify_on_state_change`` is set; then every save is notified, as a state
        transition when the vm state changed (``vm_and_task_state``: or the task state),
        else with the current states as both old and new."""
        mode = self.opts.notify_on_state_change
        if mode is None:
            return
        changed = old_vm_state != instance.vm_state or (
            mode == "vm_and_task_state" and old_task_state != instance.task_state
        )
        if not changed:
            old_vm_state, old_task_state = instance.vm_state, instance.task_state
        if old_display_name == instance.display_name:
            old_display_name = None
        if self._legacy is not None:
            extra = legacy.update_info(instance, old_vm_state, old_task_state, old_display_name)
            self.notify_about_instance_usage(
                ctxt, instance, "update", extra_usage_info=extra, host=host
            )
        if self._versioned is None:
            return
        try:
            payload = versioned.update_payload(
                ctxt,
                instance,
                old_state=old_vm_state,
                old_task_state=old_task_state,
                old_display_name=old_display_name,
            )
        except Exception:
            LOG.exception("could not build instance.update for %s", instance.uuid)
            return
        publisher = f"{source or self.binary}:{host or self.host}"
        self._queue_one(self._versioned, publisher, ctxt, "info", "instance.update", payload)

    def notify_about_exception(
        self,
        ctxt: RequestContext | None,
        exception: BaseException,
        *,
        host: str | None = None,
        source: str | None = None,
    ) -> None:
        """``compute.exception`` (ERROR) with ExceptionPayload, as Nova's exception wrapper."""
        if self._versioned is None:
            return
        try:
            payload = versioned.exception_payload(exception)
        except Exception:
            LOG.exception("could not build compute.exception for %r", exception)
            return
        publisher = f"{source or self.binary}:{host or self.host}"
        self._queue_one(self._versioned, publisher, ctxt, "error", "compute.exception", payload)

    def notify_about_service(
        self,
        ctxt: RequestContext | None,
        service: Service,
        action: str = "update",
        *,
        availability_zone: str | None = None,
    ) -> None:
        """``service.<action>`` (``update`` on state changes and force-down) with
        ServiceStatusPayload, published as ``<binary>:<host>`` of that service."""
        if self._versioned is None:
            return
        try:
            payload = versioned.service_payload(service, availability_zone)
        except Exception:
            LOG.exception("could not build service.%s for %s", action, service.host)
            return
        publisher = f"{service.binary}:{service.host}"
        self._queue_one(self._versioned, publisher, ctxt, "info", f"service.{action}", payload)

    def notify_legacy(
        self,
        ctxt: RequestContext | None,
        event_type: str,
        payload: dict[str, Any],
        *,
        priority: str = "info",
        service: str = "compute",
        host: str | None = None,
    ) -> None:
        """Any legacy event (``publisher_id`` ``<service>.<host>``), payload already built."""
        if self._legacy is not None:
            publisher = f"{service}.{host or self.host}"
            self._queue_one(self._legacy, publisher, ctxt, priority, event_type, payload)

    def notify_versioned(
        self,
        ctxt: RequestContext | None,
        event_type: str,
        payload: dict[str, Any],
        *,
        priority: str = "info",
        source: str | None = None,
        host: str | None = None,
    ) -> None:
        """Any versioned event (``publisher_id`` ``<source>:<host>``), payload already built."""
        if self._versioned is not None:
            publisher = f"{source or self.binary}:{host or self.host}"
            self._queue_one(self._versioned, publisher, ctxt, priority, event_type, payload)

    # -- queueing and sending ----------------------------------------------

    def _versioned_instance(
        self,
        build: Any,
        ctxt: RequestContext | None,
        instance: Instance,
        action: str,
        phase: str | None,
        exception: BaseException | None,
        host: str | None,
        source: str | None,
    ) -> None:
        if self._versioned is None:
            return
        event_type = f"instance.{action}" + (f".{phase}" if phase else "")
        try:
            payload = build(ctxt, instance, exception)
        except Exception:
            LOG.exception("could not build %s for %s", event_type, instance.uuid)
            return
        priority = "error" if exception is not None or phase == "error" else "info"
        publisher = f"{source or self.binary}:{host or self.host}"
        self._queue_one(self._versioned, publisher, ctxt, priority, event_type, payload)

    def _queue_one(
        self,
        notifier: rpc.Notifier,
        publisher_id: str,
        ctxt: RequestContext | None,
        priority: str,
        event_type: str,
        payload: Any,
    ) -> None:
        key = (id(notifier), publisher_id)
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepared[key] = notifier.prepare(publisher_id=publisher_id)
        context = ctxt.to_dict() if ctxt is not None else {}
        self._sender.put(Pending(prepared, context, priority, event_type, payload))

    @property
    def sent(self) -> int:
        return self._sender.sent

    @property
    def dropped(self) -> int:
        return self._sender.dropped

    @property
    def queued(self) -> int:
        """How many notifications were queued so far (a mark for ``wait_sent``)."""
        return self._sender.accepted

    @property
    def handled(self) -> int:
        """How many of those the sender is done with (sent, or failed and logged)."""
        return self._sender.handled

    async def wait_sent(self, mark: int, timeout: float) -> None:
        """Wait until the first ``mark`` queued notifications were handed to the
        transport (or given up); ``TimeoutError`` after ``timeout``."""
        await self._sender.wait_handled(mark, timeout)

    async def join(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far was handed to the transport."""
        await self._sender.join(timeout)

    async def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (within ``timeout``), then stop; later calls are dropped."""
        await self._sender.stop(timeout)
        if self._owns_transport and self._transport is not None:
            await self._transport.close()
