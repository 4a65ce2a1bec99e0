"""``auth_strategy = keystone``: every request's X-Auth-Token validated by Keystone.

The caller's identity comes from the validated token only (user, project, roles,
domains, catalog); headers such as X-Roles or X-Project-Id are never read. A
valid token's identity is cached (see ``cache``); a missing, malformed, invalid,
expired or revoked token is a 401 that says where to authenticate
(``WWW-Authenticate: Keystone uri="…"``); Keystone unreachable is a 503.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from aionova.api.faults import HTTPFault
from aionova.api.keystone.cache import TokenCache
from aionova.api.keystone.client import KeystoneClient, KeystoneUnavailable, seconds_left
from aionova.config import KeystoneAuthtokenOpts
from aionova.context import RequestContext

LOG = logging.getLogger(__name__)

# The catalog entries Nova keeps in its context (nova.context.RequestContext).
CATALOG_TYPES = frozenset(
    {
        "image",
        "block-storage",
        "volumev3",
        "key-manager",
        "placement",
        "network",
        "accelerator",
        "sharev2",
    }
)
MAX_TOKEN_LENGTH = 8192
UNAUTHORIZED = "The request you have made requires authentication."
UNAVAILABLE = "The Keystone service is temporarily unavailable."


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """What a validated token says about its bearer."""

    user_id: str
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    system_scope: str | None = None
    roles: tuple[str, ...] = ()
    service_catalog: tuple[dict[str, Any], ...] = ()

    def context(self, request_id: str) -> RequestContext:
        return RequestContext(
            user_id=self.user_id,
            user_name=self.user_name,
            user_domain_id=self.user_domain_id,
            project_id=self.project_id,
            project_name=self.project_name,
            project_domain_id=self.project_domain_id,
            domain_id=self.domain_id,
            system_scope=self.system_scope,
            roles=list(self.roles),
            service_catalog=[dict(s) for s in self.service_catalog],
            request_id=request_id,
        )


def normalize_catalog(catalog: Any) -> list[dict[str, Any]]:
    """A v3 catalog in keystonemiddleware's X-Service-Catalog form (``publicURL`` …,
    one entry per region), restricted to the types Nova keeps."""
    services: list[dict[str, Any]] = []
    for entry in catalog if isinstance(catalog, list) else []:
        if not isinstance(entry, dict) or entry.get("type") not in CATALOG_TYPES:
            continue
        service: dict[str, Any] = {"type": entry["type"]}
        if "name" in entry:
            service["name"] = entry["name"]
        regions: dict[Any, dict[str, Any]] = {}
        for endpoint in entry.get("endpoints") or []:
            if not isinstance(endpoint, dict) or not isinstance(endpoint.get("interface"), str):
                continue
            region = endpoint.get("region")
            slot = regions.setdefault(region, {"region": region} if region else {})
            slot[endpoint["interface"].lower() + "URL"] = endpoint.get("url")
        service["endpoints"] = list(regions.values())
        services.append(service)
    return services


def identity_from_token(token: Mapping[str, Any]) -> Identity:
    """The bearer as Keystone's v3 token body describes it."""
    user = token.get("user") or {}
    project = token.get("project") or {}
    domain = token.get("domain") or {}
    roles = tuple(r["name"] for r in token.get("roles") or [] if isinstance(r.get("name"), str))
    system = token.get("system") or {}
    return Identity(
        user_id=str(user.get("id")),
        user_name=user.get("name"),
        user_domain_id=(user.get("domain") or {}).get("id"),
        project_id=project.get("id"),
        project_name=project.get("name"),
        project_domain_id=(project.get("domain") or {}).get("id"),
        domain_id=domain.get("id"),
        system_scope="all" if system.get("all") else None,
        roles=roles,
        service_catalog=tuple(normalize_catalog(token.get("catalog"))),
    )


def _usable(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii() and token.isprintable()


class KeystoneIdentity:
    """The keystone strategy: token → Keystone (cached) → RequestContext."""

    def __init__(self, opts: KeystoneAuthtokenOpts) -> None:
        self._client = KeystoneClient(opts)
        self._cache: TokenCache[Identity] = TokenCache(float(opts.token_cache_time))
        uri = opts.www_authenticate_uri or opts.auth_url or ""
        self._challenge = {"WWW-Authenticate": f'Keystone uri="{uri}"'}

    @property
    def client(self) -> KeystoneClient:
        return self._client

    def challenge(self) -> dict[str, str]:
        """Headers for every 401: where to get a token."""
        return dict(self._challenge)

    async def start(self) -> None:
        await self._client.start()

    async def close(self) -> None:
        await self._client.close()

    async def context(self, headers: Mapping[str, str], request_id: str) -> RequestContext:
        token = headers.get("X-Auth-Token", "").strip()
        if not _usable(token):
            raise HTTPFault(401, UNAUTHORIZED)
        identity = self._cache.get(token)
        if identity is None:
            identity = await self._validate(token)
        return identity.context(request_id)

    async def _validate(self, token: str) -> Identity:
        try:
            body = await self._client.validate(token)
        except KeystoneUnavailable as exc:
            LOG.error("Unable to validate token: %s", exc)
            raise HTTPFault(503, UNAVAILABLE) from None
        if body is None:
            LOG.info("Authorization failed for token")
            raise HTTPFault(401, UNAUTHORIZED)
        try:
            identity = identity_from_token(body)
        except (AttributeError, KeyError, TypeError) as exc:
            LOG.error("Keystone's token body is not understood: %s", exc)
            raise HTTPFault(503, UNAVAILABLE) from None
        self._cache.put(token, identity, seconds_left(body))
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug(
                "token of user %s validated: %s", identity.user_id, json.dumps(identity.roles)
            )
        return identity
