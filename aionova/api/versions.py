"""Version documents: ``/`` (all versions), ``/v2.1`` (the current one), ``/image`` (Glance)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aionova.api.common import base_url, reply
from aionova.api.microversion import MAX_VERSION, MIN_VERSION

_UPDATED = "2013-07-23T11:33:21Z"


def _v21(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": _UPDATED,
        "links": [
            {"rel": "self", "href": f"{base}/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


async def root(request: web.Request) -> web.Response:
    base = base_url(request)
    v20 = {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base}/v2/"}],
    }
    return reply({"versions": [v20, _v21(base)]}, status=200)


async def v21(request: web.Request) -> web.Response:
    return reply({"version": _v21(base_url(request))})


async def image_versions(request: web.Request) -> web.Response:
    """Glance's discovery document, for openstacksdk's image client."""
    base = base_url(request)
    docs = [
        {
            "id": version,
            "status": "CURRENT" if version == "v2.16" else "SUPPORTED",
            "links": [{"rel": "self", "href": f"{base}/image/v2/"}],
        }
        for version in ("v2.16", "v2.0")
    ]
    return reply({"versions": docs})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    for path in ("/v2.1", "/v2.1/"):
        app.router.add_get(path, v21)
    for path in ("/image", "/image/"):
        app.router.add_get(path, image_versions)
