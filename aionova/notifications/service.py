"""A service's notifications: one call where Nova emits, both formats as the settings say.

The compute manager's parts, the conductor and the compute API hold one
``ServiceNotifications`` (built by ``aionova.messaging.get_notifier``) and call
it where Nova calls ``notify_about_instance_usage`` and
``notify_about_instance_action`` (or ``_create`` / ``_rebuild``): one call
sends the legacy ``compute.instance.<action>.<phase>`` (publisher
``compute.<host>``) and the versioned ``instance.<action>.<phase>``
(publisher ``<binary>:<host>``), each only when ``notification_format`` asks
for it. Like the emitter underneath (emitter.py), a call never awaits and
never raises: the payload is built from the objects the service holds, now,
and sent by the emitter's own task. ``handoff()``, awaited before a cast that
hands an instance to the next service, keeps one instance's events in order
across services (bounded: it never holds an operation for long).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Final

import msgspec

from aionova.context import RequestContext
from aionova.notifications import versioned
from aionova.notifications.emitter import Notifications
from aionova.objects import Instance, Service

LOG = logging.getLogger(__name__)

# How long a hand-off to another service waits for this service's notifications to go
# out (a few milliseconds when the broker is well).
HANDOFF_TIMEOUT: Final = 1.0
# Versioned actions whose legacy event is spelled otherwise.
_LEGACY_ACTION: Final = {"rebuild_scheduled": "rebuild.scheduled"}


class ServiceNotifications:
    """What one service (``binary`` on ``host``) emits; see the module docstring."""

    def __init__(self, emitter: Notifications, *, handoff_timeout: float = HANDOFF_TIMEOUT) -> None:
        self.emitter = emitter
        self.handoff_timeout = handoff_timeout
        self._stalled_at: int | None = None  # the mark a hand-off last gave up on

    @property
    def host(self) -> str:
        return self.emitter.host

    @property
    def binary(self) -> str:
        return self.emitter.binary

    @property
    def versioned_enabled(self) -> bool:
        return self.emitter.versioned_enabled

    def instance(
        self,
        ctxt: RequestContext | None,
        instance: Instance,
        action: str,
        phase: str | None = None,
        *,
        exception: BaseException | None = None,
        extra: dict[str, Any] | None = None,
        source: str | None = None,
        host: str | None = None,
    ) -> None:
        """``compute.instance.<action>[.<phase>]`` and ``instance.<action>[.<phase>]``.

        ``exception`` makes both ERROR with the fault in the payload (Nova passes it on
        ``.error`` phases); ``extra`` goes into the legacy payload (``image_name`` …);
        ``source`` and ``host`` name the versioned publisher when it is not this
        service (the conductor's ``rebuild_scheduled`` names the destination host).
        """
        suffix = _LEGACY_ACTION.get(action, action) + (f".{phase}" if phase else "")
        self.emitter.notify_about_instance_usage(
            ctxt, instance, suffix, extra_usage_info=extra, fault=exception
        )
        if action == "create" and phase is not None:
            self.emitter.notify_about_instance_create(
                ctxt, instance, phase, exception=exception, host=host
            )
        elif action in ("rebuild", "rebuild_scheduled"):
            self.emitter.notify_about_instance_rebuild(
                ctxt, instance, phase, action=action, exception=exception, host=host, source=source
            )
        else:
            self.emitter.notify_about_instance_action(
                ctxt, instance, action, phase, exception=exception, host=host, source=source
            )

    def usage_exists(
        self, ctxt: RequestContext | None, instance: Instance, *, image_ref_url: str | None
    ) -> None:
        """``compute.instance.exists`` and ``instance.exists`` for the current audit period
        (Nova's ``notify_usage_exists(current_period=True)``, sent before a rebuild with
        the image the instance had)."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        extra: dict[str, Any] = {
            "audit_period_beginning": str(start),
            "audit_period_ending": str(now),
        }
        if image_ref_url is not None:
            extra["image_ref_url"] = image_ref_url
        self.emitter.notify_about_instance_usage(ctxt, instance, "exists", extra_usage_info=extra)
        if not self.emitter.versioned_enabled:
            return
        try:
            payload = versioned.exists_payload(ctxt, instance)
        except Exception:
            LOG.exception("could not build instance.exists for %s", instance.uuid)
            return
        self.emitter.notify_versioned(ctxt, "instance.exists", payload, source="nova-compute")

    def exception(
        self,
        ctxt: RequestContext | None,
        exc: BaseException,
        *,
        function_name: str,
        args: dict[str, Any],
    ) -> None:
        """What Nova's ``wrap_exception`` sends when a compute method fails: the legacy
        event named after the method (ERROR, ``{exception, args}``, passwords left
        out) and the versioned ``compute.exception`` (ERROR, ExceptionPayload)."""
        if self.emitter.legacy_enabled:
            try:
                payload = {"exception": repr(exc), "args": _call_args(args)}
            except Exception:
                LOG.exception("could not build the %s exception notification", function_name)
            else:
                self.emitter.notify_legacy(ctxt, function_name, payload, priority="error")
        self.emitter.notify_about_exception(ctxt, exc)

    def instance_saved(
        self, ctxt: RequestContext | None, instance: Instance, before: Instance
    ) -> None:
        """``compute.instance.update`` / ``instance.update`` for a save (Nova's
        ``send_update`` from ``Instance.save``, published as ``nova-compute`` on this
        host); only when ``notify_on_state_change`` is set (a database hook)."""
        self.emitter.notify_about_instance_update(
            ctxt,
            instance,
            old_vm_state=before.vm_state,
            old_task_state=before.task_state,
            old_display_name=before.display_name,
            source="nova-compute",
        )

    def service(
        self, ctxt: RequestContext | None, service: Service, action: str = "update"
    ) -> None:
        """``service.<action>``, published as the service it is about (``<binary>:<host>``)."""
        self.emitter.notify_about_service(ctxt, service, action)

    async def handoff(self) -> None:
        """Before handing an instance to another service (an RPC cast), let what this
        service notified about it go out first, as Nova's synchronous notifier does, so
        a consumer sees one instance's events in order across services.

        Bounded by ``handoff_timeout`` and never raises: when the notifications cannot
        go out (the broker is slow or down), the operation goes on after the bound, and
        later hand-offs do not wait again until the sender has caught up with that
        mark."""
        mark = self.emitter.queued
        if self._stalled_at is not None:
            if self.emitter.handled < self._stalled_at:
                return  # still behind: do not wait again
            self._stalled_at = None
        try:
            await self.emitter.wait_sent(mark, self.handoff_timeout)
        except TimeoutError:
            self._stalled_at = mark
            LOG.warning(
                "%s on %s: notifications not sent within %.1fs; going on without them",
                self.binary,
                self.host,
                self.handoff_timeout,
            )

    async def join(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far was handed to the transport."""
        await self.emitter.join(timeout)

    async def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (within ``timeout``), then stop."""
        await self.emitter.stop(timeout)


def _call_args(args: dict[str, Any]) -> dict[str, Any]:
    """The method's arguments as JSON values, without ``*_pass`` ones (Nova's cleanse)."""
    return {
        name: msgspec.to_builtins(value, enc_hook=repr)
        for name, value in args.items()
        if "_pass" not in name
    }
