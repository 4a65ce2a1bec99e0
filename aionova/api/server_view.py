"""One server as the caller sees it: the view of ``views.server`` with its fault and, where
policy allows, its host's status and extended attributes (used by GET /servers/{id}, the
detail list and actions that answer with the server)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aionova.api import views
from aionova.api.common import COMPUTE_API, DB, SERVICEGROUP, base_url, ctxt_of, version_of
from aionova.api.policy import allowed, instance_target
from aionova.objects import Instance

HOST_STATUS_RULE = "os_compute_api:servers:show:host_status"


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


async def _visible_host_status(
    request: web.Request, instance: Instance, cache: dict[str, str]
) -> str | None:
    """``host_status`` under Nova's two rules: all of it, or only when UNKNOWN."""
    target = instance_target(instance)
    if allowed(request, HOST_STATUS_RULE, target):
        return await _host_status(request, instance, cache)
    if allowed(request, f"{HOST_STATUS_RULE}:unknown-only", target):
        status = await _host_status(request, instance, cache)
        return status if status == "UNKNOWN" else None
    return None


async def full_view(
    request: web.Request, instance: Instance, cache: dict[str, str] | None = None
) -> dict[str, Any]:
    """One server as the caller at this microversion sees it; ``cache`` keeps host
    statuses across the servers of one listing."""
    ctxt, version = ctxt_of(request), version_of(request)
    fault = await request.app[COMPUTE_API].get_fault(ctxt, instance)
    status = None
    if version.at_least("2.16"):
        status = await _visible_host_status(request, instance, {} if cache is None else cache)
    extended = allowed(
        request, "os_compute_api:os-extended-server-attributes", instance_target(instance)
    )
    return views.server(
        base_url(request),
        ctxt,
        instance,
        version,
        fault=fault,
        host_status=status,
        extended=extended,
    )
