"""One server as the caller sees it: the view of ``views.server`` with its fault and, for
admins, its host's status (used by GET /servers/{id}, the detail list and actions that
answer with the server)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aionova.api import views
from aionova.api.common import COMPUTE_API, DB, SERVICEGROUP, base_url, ctxt_of, version_of
from aionova.objects import Instance


async def _host_status(request: web.Request, instance: Instance, cache: dict[str, str]) -> str:
    if not instance.host:
        return ""
    if instance.host not in cache:
        svc = await request.app[DB].service_get_by_host_and_binary(
            ctxt_of(request), instance.host, "nova-compute"
        )
        up = svc is not None and request.app[SERVICEGROUP].service_is_up(svc)
        cache[instance.host] = "UP" if up else ("UNKNOWN" if svc is None else "DOWN")
    return cache[instance.host]


async def full_view(
    request: web.Request, instance: Instance, cache: dict[str, str] | None = None
) -> dict[str, Any]:
    """One server as the caller at this microversion sees it; ``cache`` keeps host
    statuses across the servers of one listing."""
    ctxt, version = ctxt_of(request), version_of(request)
    fault = await request.app[COMPUTE_API].get_fault(ctxt, instance)
    status = None
    if ctxt.is_admin and version.at_least("2.16"):
        status = await _host_status(request, instance, {} if cache is None else cache)
    return views.server(base_url(request), ctxt, instance, version, fault=fault, host_status=status)
