"""The aiohttp application: middlewares (request id, errors, identity, microversion) and routes.

The chain, outermost first: ``_errors`` (request id, Nova-shaped error bodies, the
``WWW-Authenticate`` challenge on every 401), then ``_identity`` (the caller's
context from the token alone, by the ``[api] auth_strategy`` strategy; ``is_admin``
by the ``context_is_admin`` policy rule; the microversion).
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
from aiohttp import web

from aionova import exception
from aionova.api import admin, catalog, flavor_manage, hypervisors, servers, versions, zones
from aionova.api.auth import IdentityStrategy, make_identity
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
from aionova.api.policy import POLICY, Policy
from aionova.api.requestlog import REQUEST_ID as LOG_REQUEST_ID
from aionova.config import ApiOpts, Config
from aionova.db.errors import DBConnectionError, DBDataError
from aionova.objects.store import ObjectStore

LOG = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
IDENTITY = web.AppKey("identity", IdentityStrategy)

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
    if response.status == 401:
        response.headers.update(request.app[IDENTITY].challenge())
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
    except DBConnectionError as exc:
        # Fail fast: the database is down or restarting; the client retries.
        LOG.warning("%s %s: database unavailable: %s", request.method, request.path, exc)
        return _fault_response(HTTPFault(503, "The database is unavailable; retry later."))
    except DBDataError as exc:
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
    ctxt = await request.app[IDENTITY].context(request.headers, request[REQUEST_ID])
    ctxt.is_admin = request.app[POLICY].check_is_admin(ctxt)
    request[CTXT] = ctxt
    if request.path.startswith("/v2.1"):
        request[VERSION] = from_headers(request.headers)
    return await handler(request)


async def _identity_lifetime(app: web.Application) -> AsyncIterator[None]:
    """The identity strategy's connections live as long as the app."""
    await app[IDENTITY].start()
    try:
        yield
    finally:
        await app[IDENTITY].close()


def create_app(
    compute_api: API, db: ObjectStore, opts: ApiOpts | None = None, *, config: Config | None = None
) -> web.Application:
    """The REST app over a compute API and the shared database.

    Settings come from ``config`` (default: the compute API's); ``opts`` replaces its
    ``[api]`` group. Raises ``UnsafeConfig`` / ``ConfigError`` / ``PolicyFileError``
    for settings the API must not start with.
    """
    config = config or compute_api.config
    opts = opts or config.api
    app = web.Application(middlewares=[_errors, _identity], client_max_size=opts.max_body_bytes)
    app[IDENTITY] = make_identity(config, opts)
    app[POLICY] = Policy.from_opts(config.oslo_policy)
    app.cleanup_ctx.append(_identity_lifetime)
    app[COMPUTE_API] = compute_api
    app[DB] = db
    app[OPTS] = opts
    app[SERVICEGROUP] = compute_api.servicegroup
    app[HOST_API] = HostAPI(db, compute_api.config)
    versions.add_routes(app)
    catalog.add_routes(app)
    flavor_manage.add_routes(app)
    servers.add_routes(app)
    admin.add_routes(app)
    hypervisors.add_routes(app)
    zones.add_routes(app)
    return app
