"""os-availability-zone: the zone list (anyone) and the zones with hosts and services (admin).

aionova has no host aggregates, so every nova-compute service is in the default zone
``nova`` and every other service in the internal zone ``internal`` (Nova's
``default_availability_zone`` / ``internal_service_availability_zone`` defaults, and the
zones ``os-services`` reports).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aionova.api import views
from aionova.api.common import HOST_API, SERVICEGROUP, ctxt_of, reply
from aionova.api.policy import authorize
from aionova.objects import Service

DEFAULT_ZONE = "nova"
INTERNAL_ZONE = "internal"
# Not listed in the detail view: Nova skips them (not maintained like other services).
_API_SERVICES = frozenset({"nova-osapi_compute", "nova-metadata"})


def service_zone(svc: Service) -> str:
    return DEFAULT_ZONE if svc.binary == "nova-compute" else INTERNAL_ZONE


def _zones(services: list[Service]) -> tuple[list[str], list[str]]:
    """(zones with an enabled service, zones whose services are all disabled); sorted."""
    available = sorted({service_zone(s) for s in services if not s.disabled})
    unavailable = sorted({service_zone(s) for s in services if s.disabled} - set(available))
    return available, unavailable


async def _services(request: web.Request) -> list[Service]:
    # The listing needs no rights of its own (Nova reads with an elevated context).
    items = await request.app[HOST_API].service_get_all(ctxt_of(request).elevated())
    return sorted(items, key=lambda s: (s.host, s.binary))


async def index(request: web.Request) -> web.Response:
    """GET /os-availability-zone (os_compute_api:os-availability-zone:list, anyone)."""
    authorize(request, "os_compute_api:os-availability-zone:list")
    available, unavailable = _zones(await _services(request))
    zones = [(z, True) for z in available] + [(z, False) for z in unavailable]
    info = [
        {"zoneName": zone, "zoneState": {"available": ok}, "hosts": None}
        for zone, ok in zones
        if zone != INTERNAL_ZONE
    ]
    return reply({"availabilityZoneInfo": info})


async def detail(request: web.Request) -> web.Response:
    """GET /os-availability-zone/detail (admin): each available zone's hosts, and on each
    host its enabled services with liveness; zones with only disabled services have no
    hosts. The internal zone is included."""
    authorize(request, "os_compute_api:os-availability-zone:detail")
    services = await _services(request)
    available, unavailable = _zones(services)
    servicegroup = request.app[SERVICEGROUP]
    hosts: dict[str, dict[str, dict[str, Any]]] = {zone: {} for zone in available}
    for svc in services:
        if svc.disabled or svc.binary in _API_SERVICES:
            continue
        hosts[service_zone(svc)].setdefault(svc.host, {})[svc.binary] = {
            "available": servicegroup.service_is_up(svc),
            "active": not svc.disabled,
            "updated_at": views.iso_micro(svc.updated_at),
        }
    info: list[dict[str, Any]] = [
        {"zoneName": zone, "zoneState": {"available": True}, "hosts": hosts[zone]}
        for zone in available
    ]
    info += [
        {"zoneName": zone, "zoneState": {"available": False}, "hosts": None} for zone in unavailable
    ]
    return reply({"availabilityZoneInfo": info})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v2.1/os-availability-zone", index)
    r.add_get("/v2.1/os-availability-zone/detail", detail)
