"""What every handler uses: the app's keys, the request's context/version, JSON replies."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import msgspec
from aiohttp import web

from aionova import exception
from aionova.api.compute import API, HostAPI
from aionova.api.faults import HTTPFault, not_found
from aionova.api.microversion import Version
from aionova.config import ApiOpts
from aionova.context import RequestContext
from aionova.objects import Instance
from aionova.objects.store import ObjectStore
from aionova.servicegroup import ServiceGroupAPI

COMPUTE_API = web.AppKey("compute_api", API)
DB = web.AppKey("db", ObjectStore)
HOST_API = web.AppKey("host_api", HostAPI)
OPTS = web.AppKey("opts", ApiOpts)
SERVICEGROUP = web.AppKey("servicegroup", ServiceGroupAPI)
CTXT = web.RequestKey("ctxt", RequestContext)
VERSION = web.RequestKey("version", Version)
REQUEST_ID = web.RequestKey("request_id", str)

_ENCODER = msgspec.json.Encoder()


def ctxt_of(request: web.Request) -> RequestContext:
    return request[CTXT]


def version_of(request: web.Request) -> Version:
    return request[VERSION]


def base_url(request: web.Request) -> str:
    """The public URL root (configured, or from the Host header)."""
    configured = request.app[OPTS].public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response (``body=None`` gives an empty one)."""
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(
        body=_ENCODER.encode(body), status=status, content_type="application/json", headers=headers
    )


def is_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


async def load_instance(request: web.Request, *, read_deleted: bool = False) -> Instance:
    """The instance named in the path, visible to the caller, or 404."""
    ident = request.match_info["server_id"]
    ctxt = ctxt_of(request)
    missing = not_found(f"Instance {ident} could not be found.")
    if not is_uuid(ident):
        raise missing
    try:
        instance = await request.app[DB].instance_get(ctxt, ident, read_deleted=read_deleted)
    except exception.InstanceNotFound:
        raise missing from None
    if not (ctxt.is_admin or instance.project_id == ctxt.project_id):
        raise missing
    return instance


def query_flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "").strip().lower()
    return value in ("1", "true", "t", "yes", "y", "on")


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPFault(400, f"Invalid input for query parameter {name}: {raw[:40]!r}") from None
    if value < 0:
        raise HTTPFault(400, f"Invalid input for query parameter {name}: must be >= 0")
    return value


def paginate(items: list[Any], key: str, marker: str | None, limit: int | None) -> list[Any]:
    """Items after ``marker`` (404-style 400 when unknown), at most ``limit``."""
    if marker is not None:
        keys = [
            str(item[key]) if isinstance(item, dict) else str(getattr(item, key)) for item in items
        ]
        if marker not in keys:
            raise HTTPFault(400, f"marker [{marker}] not found")
        items = items[keys.index(marker) + 1 :]
    return items if limit is None else items[:limit]
