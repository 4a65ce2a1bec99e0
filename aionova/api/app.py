"""The aiohttp application: middlewares (request id, errors, auth, microversion) and routes."""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from aionova import exception
from aionova.api import admin, catalog, hypervisors, servers, versions, zones
from aionova.api.auth import context_from_headers
from aionova.api.common import (
    COMPUTE_API,
    CTXT,
    DB,
    HOST_API,
    OPTS,
    REQUEST_ID,
    SERVICEGROUP,
    VERSION,
    reply,
)
from aionova.api.compute import API, HostAPI
from aionova.api.faults import HTTPFault, from_nova
from aionova.api.microversion import from_headers
from aionova.api.requestlog import REQUEST_ID as LOG_REQUEST_ID
from aionova.config import ApiOpts
from aionova.objects.store import ObjectStore

LOG = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_UNAUTHENTICATED = ("/", "/v2.1", "/v2.1/", "/v2", "/v2/", "/image", "/image/")


def _fault_response(fault: HTTPFault) -> web.Response:
    return reply(fault.body(), status=fault.status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id on every reply; every failure becomes a Nova-style error body."""
    request_id = f"req-{uuidlib.uuid4()}"
    LOG_REQUEST_ID.set(request_id)  # kept until the next request: the access log line reads it
    request[REQUEST_ID] = request_id
    response = await _safe(request, handler)
    response.headers["x-compute-request-id"] = request_id
    response.headers["x-openstack-request-id"] = request_id
    version = request.get(VERSION)
    if version is not None:
        response.headers["OpenStack-API-Version"] = f"compute {version}"
        response.headers["X-OpenStack-Nova-API-Version"] = str(version)
        response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
    return response


async def _safe(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HTTPFault as fault:
        return _fault_response(fault)
    except exception.NovaException as exc:
        mapped = from_nova(exc)
        if mapped.status >= 500:
            LOG.exception("%s %s failed", request.method, request.path)
        return _fault_response(mapped)
    except msgspec.ValidationError as exc:
        return _fault_response(HTTPFault(400, f"Invalid input: {exc}"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {404: "The resource could not be found.", 405: "Method not allowed."}
        text = message.get(exc.status, exc.reason)
        return _fault_response(HTTPFault(exc.status, text))
    except Exception:
        LOG.exception("%s %s failed", request.method, request.path)
        return _fault_response(
            HTTPFault(500, "Unexpected API Error. Please report this at the project's tracker.")
        )


@web.middleware
async def _identity(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Context and microversion for everything but the version documents."""
    if request.path in _UNAUTHENTICATED:
        return await handler(request)
    request[CTXT] = context_from_headers(request.headers, request.app[OPTS], request[REQUEST_ID])
    if request.path.startswith("/v2.1"):
        request[VERSION] = from_headers(request.headers)
    return await handler(request)


def create_app(compute_api: API, db: ObjectStore, opts: ApiOpts | None = None) -> web.Application:
    """The REST app over a compute API and the shared database."""
    opts = opts or ApiOpts()
    app = web.Application(middlewares=[_errors, _identity], client_max_size=opts.max_body_bytes)
    app[COMPUTE_API] = compute_api
    app[DB] = db
    app[OPTS] = opts
    app[SERVICEGROUP] = compute_api.servicegroup
    app[HOST_API] = HostAPI(db, compute_api.config)
    versions.add_routes(app)
    catalog.add_routes(app)
    servers.add_routes(app)
    admin.add_routes(app)
    hypervisors.add_routes(app)
    zones.add_routes(app)
    return app
