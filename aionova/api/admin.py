"""os-services: list, and admin updates (force down/up, enable/disable) by UUID or host."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from aiohttp import web

from aionova.api import views
from aionova.api.common import (
    COMPUTE_API,
    DB,
    HOST_API,
    SERVICEGROUP,
    ctxt_of,
    is_uuid,
    reply,
    version_of,
)
from aionova.api.faults import HTTPFault, bad_request, not_found
from aionova.api.policy import authorize
from aionova.api.schemas import (
    ServiceForceDown,
    ServiceHostBinary,
    ServiceUpdate,
    convert,
    decode_json,
)
from aionova.api.zones import service_zone
from aionova.objects import Service

_SERVICE_NS = uuidlib.UUID("6f0a3a52-6d8e-4d1e-9a55-3b2f1b0c7e11")


def service_uuid(svc: Service) -> str:
    """The row's UUID, or a stable one derived from the row (older schemas had none)."""
    stored = getattr(svc, "uuid", None)
    if stored:
        return str(stored)
    return str(uuidlib.uuid5(_SERVICE_NS, f"{svc.id}/{svc.host}/{svc.binary}"))


def _service_view(request: web.Request, svc: Service) -> dict[str, Any]:
    version = version_of(request)
    up = request.app[SERVICEGROUP].service_is_up(svc)
    view: dict[str, Any] = {
        "id": service_uuid(svc) if version.at_least("2.53") else svc.id,
        "binary": svc.binary,
        "host": svc.host,
        "zone": service_zone(svc),
        "status": "disabled" if svc.disabled else "enabled",
        "state": "up" if up else "down",
        "updated_at": views.iso(svc.updated_at),
        "disabled_reason": svc.disabled_reason,
    }
    if version.at_least("2.11"):
        view["forced_down"] = svc.forced_down
    return view


async def _services(request: web.Request) -> list[Service]:
    api = request.app[COMPUTE_API]
    getter = getattr(api, "service_get_all", None)
    ctxt = ctxt_of(request)
    items = (
        await getter(ctxt) if getter is not None else await request.app[DB].service_get_all(ctxt)
    )
    for key in ("host", "binary"):
        if request.query.get(key):
            items = [s for s in items if getattr(s, key) == request.query[key]]
    return sorted(items, key=lambda s: s.id or 0)


async def services_index(request: web.Request) -> web.Response:
    authorize(request, "os_compute_api:os-services:list")
    return reply({"services": [_service_view(request, s) for s in await _services(request)]})


async def _update_service(request: web.Request, svc: Service, updates: dict[str, Any]) -> Service:
    """An admin update through the host API (it refuses to force up a host with
    ``done`` evacuations, and non-compute services)."""
    return await request.app[HOST_API].service_update(ctxt_of(request), svc, **updates)


async def _find(request: web.Request, host: str, binary: str) -> Service:
    svc = await request.app[DB].service_get_by_host_and_binary(ctxt_of(request), host, binary)
    if svc is None:
        raise not_found(f"Service {binary} on host {host} could not be found.")
    return svc


async def _legacy_action(request: web.Request, action: str, raw: Any) -> web.Response:
    """PUT /os-services/{force-down,enable,disable,disable-log-reason} (before 2.53)."""
    version = version_of(request)
    if action == "force-down":
        if not version.at_least("2.11"):
            raise not_found("Unknown action")
        body = convert(raw, ServiceForceDown, "service")
        if body.binary != "nova-compute":
            raise bad_request(f"Updating a {body.binary} service is not supported.")
        svc = await _find(request, body.host, body.binary)
        await _update_service(request, svc, {"forced_down": body.forced_down})
        return reply(
            {"service": {"host": body.host, "binary": body.binary, "forced_down": body.forced_down}}
        )
    hb = convert(raw, ServiceHostBinary, "service")
    svc = await _find(request, hb.host, hb.binary)
    updates: dict[str, Any] = {"disabled": action != "enable"}
    if action == "disable-log-reason":
        if not hb.disabled_reason:
            raise bad_request("Missing disabled reason field")
        updates["disabled_reason"] = hb.disabled_reason
    await _update_service(request, svc, updates)
    view: dict[str, Any] = {
        "host": hb.host,
        "binary": hb.binary,
        "status": "enabled" if action == "enable" else "disabled",
    }
    if updates.get("disabled_reason"):
        view["disabled_reason"] = updates["disabled_reason"]
    return reply({"service": view})


async def services_update(request: web.Request) -> web.Response:
    ctxt, version = ctxt_of(request), version_of(request)
    authorize(request, "os_compute_api:os-services:update")
    ident = request.match_info["service_id"]
    raw = decode_json(await request.read())
    if not version.at_least("2.53"):
        if ident not in ("force-down", "enable", "disable", "disable-log-reason"):
            raise not_found("Unknown action")
        return await _legacy_action(request, ident, raw)
    if not is_uuid(ident):
        raise bad_request(f"Invalid uuid {ident[:60]}")
    body = convert(raw, ServiceUpdate, "service")
    if body.status is None and body.forced_down is None and body.disabled_reason is None:
        raise bad_request(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified."
        )
    if body.status is None and body.disabled_reason is not None:
        raise bad_request("Specifying 'disabled_reason' with status 'enabled' is invalid.")
    if body.status == "enabled" and body.disabled_reason is not None:
        raise bad_request("Specifying 'disabled_reason' with status 'enabled' is invalid.")
    services = await request.app[HOST_API].service_get_all(ctxt)
    match = [s for s in services if service_uuid(s) == ident]
    if not match:
        raise not_found(f"Service {ident} could not be found.")
    svc = match[0]
    if svc.binary != "nova-compute":
        raise bad_request(
            f"Updating a {svc.binary} service is not supported. "
            "Only nova-compute services can be updated."
        )
    updates: dict[str, Any] = {}
    if body.status is not None:
        updates["disabled"] = body.status == "disabled"
        updates["disabled_reason"] = body.disabled_reason
    if body.forced_down is not None:
        updates["forced_down"] = body.forced_down
    fresh = await _update_service(request, svc, updates)
    return reply({"service": _service_view(request, fresh)})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v2.1/os-services", services_index)
    r.add_put("/v2.1/os-services/{service_id}", services_update)


__all__ = ["HTTPFault", "add_routes", "service_uuid"]
