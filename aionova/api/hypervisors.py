"""os-hypervisors and os-migrations (admin views of hosts and moves)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aionova.api import views
from aionova.api.admin import service_uuid
from aionova.api.common import (
    COMPUTE_API,
    DB,
    HOST_API,
    SERVICEGROUP,
    ctxt_of,
    paginate,
    query_flag,
    query_int,
    reply,
    version_of,
)
from aionova.api.faults import bad_request, not_found
from aionova.api.policy import allowed, authorize
from aionova.objects import Service


async def hypervisors(request: web.Request) -> web.Response:
    """GET /os-hypervisors[/detail|/{id}|/{pattern}/search|/{pattern}/servers]."""
    ctxt, version = ctxt_of(request), version_of(request)
    authorize(request, f"os_compute_api:os-hypervisors:{_hypervisors_rule(request)}")
    db = request.app[DB]
    host_api = request.app[HOST_API]
    nodes = sorted(await host_api.compute_node_get_all(ctxt), key=lambda n: n.id or 0)
    computes = await host_api.service_get_all(ctxt, {"binary": "nova-compute"})
    services = {s.host: s for s in computes}
    new_ids = version.at_least("2.53")
    tail = request.match_info.get("tail", "")
    ident = request.match_info.get("ident")
    pattern = request.query.get("hypervisor_hostname_pattern")
    with_servers = query_flag(request, "with_servers") or tail == "servers"
    detailed = request.path.endswith("/detail") or (ident is not None and not tail)
    if ident is not None and tail:
        if new_ids:
            raise not_found("The resource could not be found.")
        pattern = ident
    elif ident is not None:
        nodes = [n for n in nodes if (n.uuid if new_ids else str(n.id)) == ident]
        if not nodes:
            raise not_found(f"Hypervisor with ID {ident[:60]} could not be found.")
    if pattern is not None:
        nodes = [n for n in nodes if pattern in n.hypervisor_hostname]
        if not nodes:
            raise not_found(f"No hypervisor matching {pattern[:60]} could be found.")
    servers = await db.instance_names_by_host(ctxt) if with_servers else {}
    out = []
    for node in nodes:
        svc = services.get(node.host)
        up = svc is not None and request.app[SERVICEGROUP].service_is_up(svc)
        view: dict[str, Any] = {
            "id": node.uuid if new_ids else node.id,
            "hypervisor_hostname": node.hypervisor_hostname,
            "state": "up" if up else "down",
            "status": "disabled" if svc is not None and svc.disabled else "enabled",
        }
        if detailed:
            view.update(_node_detail(node, svc, new_ids))
        if with_servers:
            view["servers"] = [{"uuid": u, "name": n} for u, n in servers.get(node.host, [])]
        out.append(view)
    if ident is not None and not tail:
        return reply({"hypervisor": out[0]})
    if version.at_least("2.33"):
        key = "id"
        out = paginate(out, key, request.query.get("marker"), query_int(request, "limit"))
    return reply({"hypervisors": out})


def _hypervisors_rule(request: web.Request) -> str:
    """Nova's rule per route: list, list-detail, show, search, servers."""
    tail = request.match_info.get("tail")
    if tail:
        return tail
    if request.match_info.get("ident") is not None:
        return "show"
    return "list-detail" if request.path.endswith("/detail") else "list"


def _node_detail(node: Any, svc: Service | None, new_ids: bool) -> dict[str, Any]:
    service = {"host": node.host, "id": None, "disabled_reason": None}
    if svc is not None:
        service = {
            "host": svc.host,
            "id": service_uuid(svc) if new_ids else svc.id,
            "disabled_reason": svc.disabled_reason,
        }
    return {
        "hypervisor_type": "fake",
        "hypervisor_version": 1000,
        "host_ip": "127.0.0.1",
        "vcpus": node.vcpus,
        "memory_mb": node.memory_mb,
        "local_gb": node.local_gb,
        "vcpus_used": node.vcpus_used,
        "memory_mb_used": node.memory_mb_used,
        "local_gb_used": node.local_gb_used,
        "free_ram_mb": node.free_ram_mb,
        "free_disk_gb": node.free_disk_gb,
        "current_workload": 0,
        "running_vms": node.running_vms,
        "disk_available_least": node.free_disk_gb,
        "cpu_info": "{}",
        "service": service,
    }


async def migrations(request: web.Request) -> web.Response:
    ctxt, version = ctxt_of(request), version_of(request)
    authorize(request, "os_compute_api:os-migrations:index")
    q = request.query
    if q.get("project_id") != ctxt.project_id:
        authorize(request, "os_compute_api:os-migrations:index:all_projects")
    add_host = allowed(request, "os_compute_api:os-migrations:index:host")
    keys = ("host", "status", "instance_uuid", "migration_type", "source_compute")
    filters: dict[str, Any] = {k: q[k] for k in keys if q.get(k)}
    if q.get("project_id"):
        own = await request.app[COMPUTE_API].get_all(ctxt, {"project_id": q["project_id"]})
        filters["instance_uuid"] = [i.uuid for i in own if i.uuid == q.get("instance_uuid", i.uuid)]
    items = await request.app[HOST_API].migration_get_all(ctxt, filters)
    items.sort(key=lambda m: m.id or 0, reverse=True)
    if version.at_least("2.59"):
        if q.get("marker"):
            uuids = [m.uuid for m in items]
            if q["marker"] not in uuids:
                raise bad_request(f"Marker {q['marker'][:60]} could not be found.")
            items = items[uuids.index(q["marker"]) + 1 :]
        limit = query_int(request, "limit")
        items = items if limit is None else items[:limit]
    out = []
    for m in items:
        view: dict[str, Any] = {
            "id": m.id,
            "source_node": m.source_node,
            "dest_node": m.dest_node,
            "source_compute": m.source_compute,
            "dest_compute": m.dest_compute,
            "dest_host": m.dest_host,
            "status": m.status,
            "instance_uuid": m.instance_uuid,
            "old_instance_type_id": None,
            "new_instance_type_id": None,
            "created_at": views.iso(m.created_at),
            "updated_at": views.iso(m.updated_at),
        }
        if not add_host:
            for key in _HOST_FIELDS:
                view[key] = None
        if version.at_least("2.23"):
            view["migration_type"] = m.migration_type
        if version.at_least("2.59"):
            view["uuid"] = m.uuid
        out.append(view)
    return reply({"migrations": out})


# What os-migrations:index:host reveals (Nova leaves them null for the others).
_HOST_FIELDS = ("source_node", "dest_node", "source_compute", "dest_compute", "dest_host")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v2.1/os-hypervisors", hypervisors)
    r.add_get("/v2.1/os-hypervisors/detail", hypervisors)
    r.add_get("/v2.1/os-hypervisors/{ident}", hypervisors)
    r.add_get("/v2.1/os-hypervisors/{ident}/{tail:search|servers}", hypervisors)
    r.add_get("/v2.1/os-migrations", migrations)
