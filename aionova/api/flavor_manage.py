"""Nova's flavor-manage API: ``POST /flavors`` and ``DELETE /flavors/{id}`` (admin by
default: ``os_compute_api:os-flavor-manage:create`` / ``:delete``).

The body is Nova's: ``name``, ``ram``, ``vcpus``, ``disk`` required; ``id`` (a string,
or null/absent for a generated UUID), ``OS-FLV-EXT-DATA:ephemeral``, ``swap``,
``rxtx_factor``, ``os-flavor-access:is_public``, and ``description`` from 2.55. Counts
are integers or their string form, as Nova's schema allows. Every flavor here is
public; ``rxtx_factor`` is accepted and not stored (Nova ignores it too since Queens).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Any

from aiohttp import web

from aionova.api import views
from aionova.api.common import DB, base_url, ctxt_of, reply, version_of
from aionova.api.faults import bad_request
from aionova.api.policy import authorize
from aionova.api.schemas import decode_json
from aionova.objects import Flavor

_ID = re.compile(r"^(?! )[a-zA-Z0-9. _-]+(?<! )$")
_MAX_INT = 2**31 - 1
_KNOWN = {
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "OS-FLV-EXT-DATA:ephemeral",
    "swap",
    "rxtx_factor",
    "os-flavor-access:is_public",
}


def _count(body: dict[str, Any], key: str, minimum: int, default: int | None = None) -> int:
    value = body.get(key, default)
    if value is None:
        raise bad_request(
            f"Invalid input for field/attribute flavor. '{key}' is a required property"
        )
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _MAX_INT:
        raise bad_request(
            f"Invalid input for field/attribute {key}. Value: {value!r}. It must be an integer"
            f" between {minimum} and {_MAX_INT}."
        )
    return value


def _name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or name.strip() != name:
        raise bad_request(
            f"Invalid input for field/attribute name. Value: {name!r}. A name is 1 to 255"
            " characters without leading or trailing whitespace."
        )
    return name


def _flavor_id(body: dict[str, Any]) -> str:
    flavorid = body.get("id")
    if flavorid is None:
        return str(uuidlib.uuid4())
    if not isinstance(flavorid, str) or len(flavorid) > 255 or not _ID.match(flavorid):
        raise bad_request(f"Invalid input for field/attribute id. Value: {flavorid!r}.")
    return flavorid


def _checked_extras(body: dict[str, Any], description_allowed: bool) -> str | None:
    rxtx = body.get("rxtx_factor", 1.0)
    if isinstance(rxtx, bool) or not isinstance(rxtx, (int, float)) or not rxtx > 0:
        raise bad_request(f"Invalid input for field/attribute rxtx_factor. Value: {rxtx!r}.")
    public = body.get("os-flavor-access:is_public", True)
    if not isinstance(public, bool):
        raise bad_request("Invalid input for field/attribute os-flavor-access:is_public.")
    if not public:
        raise bad_request("Private flavors are not supported here: every flavor is public.")
    unknown = set(body) - _KNOWN - ({"description"} if description_allowed else set())
    if unknown:
        raise bad_request(f"Additional properties are not allowed ({sorted(unknown)} unexpected)")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 65535):
        raise bad_request("Invalid input for field/attribute description.")
    return description


def parse(payload: Any, description_allowed: bool) -> Flavor:
    """A Flavor from Nova's request body, or a 400 naming what is wrong."""
    if not isinstance(payload, dict) or not isinstance(payload.get("flavor"), dict):
        raise bad_request("Invalid input: the body must be {'flavor': {...}}")
    body: dict[str, Any] = payload["flavor"]
    swap = body.get("swap", 0)
    return Flavor(
        flavorid=_flavor_id(body),
        name=_name(body),
        memory_mb=_count(body, "ram", 1),
        vcpus=_count(body, "vcpus", 1),
        root_gb=_count(body, "disk", 0),
        ephemeral_gb=_count(body, "OS-FLV-EXT-DATA:ephemeral", 0, 0),
        swap=0 if swap == "" else _count(body, "swap", 0, 0),
        description=_checked_extras(body, description_allowed),
    )


async def create(request: web.Request) -> web.Response:
    authorize(request, "os_compute_api:os-flavor-manage:create")
    version = version_of(request)
    payload = decode_json(await request.read())
    flavor = parse(payload, version.at_least("2.55"))
    created = await request.app[DB].flavor_create(ctxt_of(request), flavor)
    return reply({"flavor": views.flavor(base_url(request), created, version)})


async def delete(request: web.Request) -> web.Response:
    authorize(request, "os_compute_api:os-flavor-manage:delete")
    await request.app[DB].flavor_delete(ctxt_of(request), request.match_info["flavor_id"])
    return reply(None, status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v2.1/flavors", create)
    app.router.add_delete("/v2.1/flavors/{flavor_id}", delete)
