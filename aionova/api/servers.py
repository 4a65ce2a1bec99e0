"""/servers: list, detail, show, create, update, delete; actions are in ``server_actions``."""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
from aiohttp import web

from aionova import exception
from aionova.api import server_actions, views
from aionova.api.common import (
    COMPUTE_API,
    base_url,
    ctxt_of,
    load_instance,
    paginate,
    query_int,
    reply,
    version_of,
)
from aionova.api.faults import HTTPFault, bad_request
from aionova.api.microversion import Version
from aionova.api.policy import allowed, authorize, instance_target
from aionova.api.regex import compile_filter
from aionova.api.schemas import (
    ServerCreate,
    ServerUpdate,
    check_description,
    check_ip,
    check_name,
    convert,
    decode_json,
)
from aionova.api.server_view import full_view
from aionova.objects import Instance
from aionova.states import api_status, vm_states

_STATUS_TO_VM = {
    "ACTIVE": vm_states.ACTIVE,
    "BUILD": vm_states.BUILDING,
    "SHUTOFF": vm_states.STOPPED,
    "ERROR": vm_states.ERROR,
    "DELETED": vm_states.DELETED,
}


def _status_matches(instance: Instance, wanted: str) -> bool:
    return api_status(instance.vm_state, instance.task_state) == wanted.upper()


async def _matching(request: web.Request) -> list[Instance]:
    """Servers the caller may list, filtered by the query; newest first."""
    ctxt, q = ctxt_of(request), request.query
    kind = "detail" if request.path.endswith("/detail") else "index"
    authorize(request, f"os_compute_api:servers:{kind}")
    all_tenants = "all_tenants" in q and q.get("all_tenants", "").lower() not in ("0", "false")
    if all_tenants:
        authorize(request, f"os_compute_api:servers:{kind}:get_all_tenants")
    filters: dict[str, Any] = {}
    if not all_tenants:
        filters["project_id"] = ctxt.project_id
    elif q.get("project_id") or q.get("tenant_id"):
        filters["project_id"] = q.get("project_id") or q.get("tenant_id")
    if q.get("deleted", "").lower() in ("true", "1"):
        return []
    items = await request.app[COMPUTE_API].get_all(ctxt, filters)
    if q.get("host") and allowed(request, "os_compute_api:servers:allow_all_filters"):
        # As Nova: a filter the caller may not use is dropped, not refused.
        items = [i for i in items if i.host == q["host"]]
    if q.get("status"):
        items = [i for i in items if _status_matches(i, q["status"])]
    if q.get("name"):
        pattern = compile_filter(q["name"], "name")  # linear time: RE2
        items = [i for i in items if pattern.search(i.display_name or "")]
    if q.get("image"):
        items = [i for i in items if i.image_ref == q["image"]]
    if q.get("flavor"):
        items = [i for i in items if i.flavor is not None and i.flavor.flavorid == q["flavor"]]
    items.sort(key=lambda i: (i.created_at is not None, i.created_at), reverse=True)
    return paginate(items, "uuid", q.get("marker"), query_int(request, "limit"))


async def index(request: web.Request) -> web.Response:
    base = base_url(request)
    return reply({"servers": [views.server_brief(base, i) for i in await _matching(request)]})


async def detail(request: web.Request) -> web.Response:
    cache: dict[str, str] = {}
    items = [await full_view(request, i, cache) for i in await _matching(request)]
    return reply({"servers": items})


async def show(request: web.Request) -> web.Response:
    instance = await load_instance(request)
    authorize(request, "os_compute_api:servers:show", instance_target(instance))
    return reply({"server": await full_view(request, instance)})


def _last_segment(ref: str) -> str:
    return ref.rstrip("/").rsplit("/", 1)[-1]


def _image_ref(body: ServerCreate) -> str | None:
    if body.imageRef:
        return _last_segment(body.imageRef)
    for bdm in body.block_device_mapping_v2 or []:
        if bdm.source_type == "image" and bdm.uuid and str(bdm.boot_index) == "0":
            return bdm.uuid
    return None


async def create(request: web.Request) -> web.Response:
    ctxt, version = ctxt_of(request), version_of(request)
    raw = decode_json(await request.read())
    if not isinstance(raw, dict) or "server" not in raw:
        raise bad_request("Invalid input: the body must be {'server': {...}}.")
    body = convert(raw["server"], ServerCreate, "server")
    check_name(body.name)
    authorize(request, "os_compute_api:servers:create")
    if version.at_least("2.37") and body.networks is None:
        raise bad_request("Invalid input for field/attribute server: 'networks' is required.")
    if body.max_count is not None and body.max_count < body.min_count:
        raise bad_request("min_count must be <= max_count")
    if body.availability_zone and ":" in body.availability_zone:
        authorize(request, "os_compute_api:servers:create:forced_host")
    if isinstance(body.networks, list) and body.networks:
        authorize(request, "os_compute_api:servers:create:attach_network")
    image_ref = _image_ref(body)
    if image_ref is None:
        raise bad_request("Block Device Mapping is Invalid: no image to boot from.")
    flavor_ref = _last_segment(str(body.flavorRef))
    password = body.adminPass or secrets.token_urlsafe(9)
    try:
        instances, _ = await request.app[COMPUTE_API].create(
            ctxt,
            flavor_ref,
            image_ref,
            name=body.name,
            min_count=body.min_count,
            max_count=body.max_count,
            availability_zone=body.availability_zone,
            metadata=body.metadata,
            admin_password=password,
        )
    except exception.FlavorNotFound:
        raise bad_request(f"Flavor {flavor_ref} could not be found.") from None
    except exception.ImageNotFound:
        raise bad_request(f"Image {image_ref} could not be found.") from None
    except exception.Invalid as exc:
        raise bad_request(exc.message) from None
    first = instances[0]
    base = base_url(request)
    server = {
        "id": first.uuid,
        "links": views.links(base, "servers", first.uuid),
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": "default"}],
        "adminPass": password,
    }
    location = f"{base}/v2.1/servers/{first.uuid}"
    return reply({"server": server}, status=202, headers={"Location": location})


def _update_args(raw: Any, version: Version) -> tuple[str | None, dict[str, str | None]]:
    """The new name and ``system_metadata`` entries of a PUT /servers/{id} body, checked
    as Nova's schema does: ``{"server": {...}}`` and nothing else, no unknown keys,
    ``description`` only from 2.19."""
    if not isinstance(raw, dict) or "server" not in raw:
        raise bad_request("Invalid input: the body must be {'server': {...}}.")
    extra = sorted(k for k in raw if k != "server")
    if extra:
        raise bad_request(
            f"Additional properties are not allowed ({extra[0][:40]!r} was unexpected)"
        )
    server = raw["server"]
    if isinstance(server, dict) and "description" in server and not version.at_least("2.19"):
        raise bad_request("Additional properties are not allowed ('description' was unexpected)")
    body = convert(server, ServerUpdate, "server")
    name = None if body.name is msgspec.UNSET else check_name(body.name)
    sysmeta: dict[str, str | None] = {}
    if body.description is not msgspec.UNSET:
        sysmeta[views.DESCRIPTION] = check_description(body.description)
    if body.accessIPv4 is not msgspec.UNSET:
        sysmeta[views.ACCESS_IP_V4] = check_ip(body.accessIPv4, 4, "accessIPv4")
    if body.accessIPv6 is not msgspec.UNSET:
        sysmeta[views.ACCESS_IP_V6] = check_ip(body.accessIPv6, 6, "accessIPv6")
    if body.OS_DCF_diskConfig is not msgspec.UNSET:
        sysmeta[views.DISK_CONFIG] = body.OS_DCF_diskConfig
    return name, sysmeta


async def update(request: web.Request) -> web.Response:
    """PUT /servers/{id}: rename, (2.19+) describe; 200 with the server as GET shows it."""
    ctxt = ctxt_of(request)
    # Nova validates the body before it looks the server up.
    name, sysmeta = _update_args(decode_json(await request.read()), version_of(request))
    instance = await load_instance(request)
    authorize(request, "os_compute_api:servers:update", instance_target(instance))
    if name is not None or sysmeta:
        instance = await request.app[COMPUTE_API].update_instance(
            ctxt, instance, display_name=name, system_metadata=sysmeta
        )
    return reply({"server": await full_view(request, instance)})


async def delete(request: web.Request) -> web.Response:
    instance = await load_instance(request)
    authorize(request, "os_compute_api:servers:delete", instance_target(instance))
    api = request.app[COMPUTE_API]
    if not hasattr(api, "delete"):
        raise HTTPFault(501, "Deleting servers is not available in this control plane yet.")
    await api.delete(ctxt_of(request), instance)
    return reply(None, status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v2.1/servers", index)
    r.add_post("/v2.1/servers", create)
    r.add_get("/v2.1/servers/detail", detail)
    r.add_get("/v2.1/servers/{server_id}", show)
    r.add_put("/v2.1/servers/{server_id}", update)
    r.add_delete("/v2.1/servers/{server_id}", delete)
    r.add_post("/v2.1/servers/{server_id}/action", server_actions.dispatch)
    r.add_get("/v2.1/servers/{server_id}/os-instance-actions", server_actions.actions_index)
    r.add_get(
        "/v2.1/servers/{server_id}/os-instance-actions/{request_id}", server_actions.actions_show
    )
