"""Read-only catalogues: flavors, and images (Glance v2 shape and the old compute proxy)."""

from __future__ import annotations

from aiohttp import web

from aionova import exception
from aionova.api import views
from aionova.api.common import DB, base_url, ctxt_of, paginate, query_int, reply, version_of
from aionova.api.faults import not_found
from aionova.api.policy import authorize
from aionova.objects import Flavor, ImageMeta


async def _flavors(request: web.Request) -> list[Flavor]:
    items = await request.app[DB].flavor_get_all(ctxt_of(request))
    min_ram = query_int(request, "minRam")
    min_disk = query_int(request, "minDisk")
    if min_ram is not None:
        items = [f for f in items if f.memory_mb >= min_ram]
    if min_disk is not None:
        items = [f for f in items if f.root_gb >= min_disk]
    # is_public: None / True / False are all accepted; every flavor here is public.
    if request.query.get("is_public", "").lower() in ("false", "f", "0", "no"):
        items = []
    return paginate(items, "flavorid", request.query.get("marker"), query_int(request, "limit"))


async def flavor_list(request: web.Request) -> web.Response:
    base, version = base_url(request), version_of(request)
    items = await _flavors(request)
    return reply({"flavors": [views.flavor_brief(base, f, version) for f in items]})


async def flavor_detail(request: web.Request) -> web.Response:
    base, version = base_url(request), version_of(request)
    items = await _flavors(request)
    return reply({"flavors": [views.flavor(base, f, version) for f in items]})


async def _flavor(request: web.Request) -> Flavor:
    ident = request.match_info["flavor_id"]
    try:
        return await request.app[DB].flavor_get_by_flavor_id(ctxt_of(request), ident)
    except exception.FlavorNotFound:
        raise not_found(f"Flavor {ident} could not be found.") from None


async def flavor_show(request: web.Request) -> web.Response:
    f = await _flavor(request)
    return reply({"flavor": views.flavor(base_url(request), f, version_of(request))})


async def flavor_extra_specs(request: web.Request) -> web.Response:
    authorize(request, "os_compute_api:os-flavor-extra-specs:index")
    await _flavor(request)
    return reply({"extra_specs": {}})


async def _images(request: web.Request) -> list[ImageMeta]:
    items = await request.app[DB].image_get_all(ctxt_of(request))
    ids = request.query.get("id", "")
    if ids.startswith("in:"):
        wanted = set(ids[3:].split(","))
        items = [i for i in items if i.id in wanted]
    elif ids:
        items = [i for i in items if i.id == ids]
    name = request.query.get("name")
    if name is not None:
        if name.startswith("in:"):
            names = set(name[3:].split(","))
            items = [i for i in items if i.name in names]
        else:
            items = [i for i in items if i.name == name]
    names_in = request.query.get("names", "")
    if names_in.startswith("in:"):
        items = [i for i in items if i.name in set(names_in[3:].split(","))]
    if request.query.get("status"):
        items = [i for i in items if i.status == request.query["status"]]
    return paginate(items, "id", request.query.get("marker"), query_int(request, "limit"))


async def _image(request: web.Request) -> ImageMeta:
    ident = request.match_info["image_id"]
    try:
        return await request.app[DB].image_get(ctxt_of(request), ident)
    except exception.ImageNotFound:
        raise not_found(f"No image found with ID {ident}") from None


async def glance_list(request: web.Request) -> web.Response:
    items = await _images(request)
    return reply(
        {
            "images": [views.glance_image(i) for i in items],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
    )


async def glance_show(request: web.Request) -> web.Response:
    return reply(views.glance_image(await _image(request)))


async def proxy_list(request: web.Request) -> web.Response:
    base = base_url(request)
    items = await _images(request)
    if request.path.endswith("/detail"):
        return reply({"images": [views.nova_image(base, i) for i in items]})
    brief = [
        {"id": i.id, "name": i.name, "links": views.links(base, "images", i.id)} for i in items
    ]
    return reply({"images": brief})


async def proxy_show(request: web.Request) -> web.Response:
    if version_of(request).at_least("2.36"):
        raise not_found("The resource could not be found.")
    return reply({"image": views.nova_image(base_url(request), await _image(request))})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v2.1/flavors", flavor_list)
    r.add_get("/v2.1/flavors/detail", flavor_detail)
    r.add_get("/v2.1/flavors/{flavor_id}", flavor_show)
    r.add_get("/v2.1/flavors/{flavor_id}/os-extra_specs", flavor_extra_specs)
    for prefix in ("/v2.1/v2/images", "/image/v2/images"):
        r.add_get(prefix, glance_list)
        r.add_get(prefix + "/{image_id}", glance_show)
    r.add_get("/v2.1/images", proxy_list)
    r.add_get("/v2.1/images/detail", proxy_list)
    r.add_get("/v2.1/images/{image_id}", proxy_show)
