"""``service.update`` when a service changes state: its heartbeats stop or come back, an
operator forces it down or up, disables or enables it.

Nova sends ``service.update`` from ``Service.save`` when ``disabled``,
``disabled_reason`` or ``forced_down`` change, and says nothing when heartbeats stop
(a dead service cannot speak for itself). Here the conductor looks at every
service each ``report_interval`` and notifies each change of what the servicegroup
would answer (up or down: heartbeat age, forced down) and of those three fields,
however it was written (REST, the host API, another process). The payload is
Nova's ``ServiceStatusPayload``, the publisher the service it is about
(``nova-compute:<host>``), as Nova's ``NotificationPublisher.from_service_obj``.

The first look only learns the states; a service that appears later is compared
with a new service's state (up, enabled). With several conductors, the one with the
smallest host name among those up sends; the others keep learning, so a successor
takes over without a burst.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from aionova.context import RequestContext
from aionova.notifications.service import ServiceNotifications
from aionova.objects import Service
from aionova.objects.store import ObjectStore
from aionova.servicegroup import ServiceGroupAPI

LOG = logging.getLogger(__name__)
CONDUCTOR = "nova-conductor"


class Status(NamedTuple):
    up: bool
    forced_down: bool
    disabled: bool
    disabled_reason: str | None


# A service first seen after the first look was created meanwhile: it started up and
# enabled (what its ``service.create`` said); anything else is a change to notify.
NEW = Status(up=True, forced_down=False, disabled=False, disabled_reason=None)


class ServiceStatusWatch:
    """Remembers each service's status between looks; ``look()`` notifies the changes."""

    def __init__(
        self,
        host: str,
        store: ObjectStore,
        servicegroup: ServiceGroupAPI,
        notifier: ServiceNotifications,
    ) -> None:
        self.host, self.store = host, store
        self.servicegroup, self.notifier = servicegroup, notifier
        self._known: dict[tuple[str, str], Status] | None = None

    def status(self, service: Service) -> Status:
        up = self.servicegroup.service_is_up(service)
        return Status(up, service.forced_down, service.disabled, service.disabled_reason)

    async def look(self, ctxt: RequestContext) -> list[Service]:
        """Read every service; notify (if this conductor sends) those whose status
        changed since the last look. Returns the services notified."""
        services = await self.store.service_get_all(ctxt)
        now = {(s.binary, s.host): self.status(s) for s in services}
        known, self._known = self._known, now
        if known is None or not self._sends(services, now):
            return []
        changed = [
            s for s in services if known.get((s.binary, s.host), NEW) != now[s.binary, s.host]
        ]
        for service in changed:
            state = now[service.binary, service.host]
            LOG.info(
                "service %s on %s is now %s%s",
                service.binary,
                service.host,
                "up" if state.up else "down",
                " (forced down)" if state.forced_down else "",
            )
            self.notifier.service(ctxt, service, "update")
        return changed

    def _sends(self, services: list[Service], now: dict[tuple[str, str], Status]) -> bool:
        """True for the up conductor with the smallest host name (or when none is up)."""
        up = sorted(s.host for s in services if s.binary == CONDUCTOR and now[CONDUCTOR, s.host].up)
        return not up or up[0] == self.host
