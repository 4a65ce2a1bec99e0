"""Who is calling: the identity strategies of ``[api] auth_strategy``.

* ``keystone`` (``aionova.api.keystone``): the token is validated by Keystone.
* ``noauth2`` (Nova's development mode, for the all-in-one): ``X-Auth-Token:
  user:project`` names the caller (admin when the user is ``admin``);
  ``notused`` (keystoneauth's ``none`` plugin) or no token is the admin user of
  ``[api] default_project``. Anyone may claim anything, so the API refuses
  ``noauth2`` on a non-loopback ``listen`` address unless ``[api]
  noauth_allow_public`` is set (and then logs a warning).

In both modes only the token decides: client-sent identity headers (X-User-Id,
X-Project-Id, X-Roles, X-Identity-Status, X-Service-*, X-Tenant*, X-Domain* …)
are never read, so they grant nothing.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from typing import Protocol

from aionova.api.faults import HTTPFault
from aionova.config import ApiOpts, Config
from aionova.context import RequestContext

LOG = logging.getLogger(__name__)

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")


class UnsafeConfig(ValueError):
    """The API would serve an unsafe identity mode where others can reach it."""


class IdentityStrategy(Protocol):
    """Turns a request's headers into the caller's context, or raises a 401/503 fault."""

    async def context(self, headers: Mapping[str, str], request_id: str) -> RequestContext: ...

    def challenge(self) -> dict[str, str]:
        """Headers added to every 401."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def _clean(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 255 or not set(value) <= _NAME_OK:
        raise HTTPFault(401, f"Invalid {what} in the request credentials.")
    return value


class NoAuthIdentity:
    """``noauth2``: the token names the caller; nothing is verified."""

    def __init__(self, opts: ApiOpts) -> None:
        self._opts = opts

    def challenge(self) -> dict[str, str]:
        return {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def context(self, headers: Mapping[str, str], request_id: str) -> RequestContext:
        token = headers.get("X-Auth-Token", "").strip()
        user, project = self._opts.default_user, self._opts.default_project
        roles = ["admin", "member", "reader"]
        if token and token != "notused":
            if ":" not in token:
                raise HTTPFault(401, "Authentication required: use 'user:project' as the token.")
            raw_user, _, raw_project = token.partition(":")
            user, project = _clean(raw_user, "user"), _clean(raw_project, "project")
            roles = ["admin", "member", "reader"] if user == "admin" else ["member", "reader"]
        return RequestContext(
            user_id=user,
            user_name=user,
            project_id=project,
            project_name=project,
            roles=roles,
            request_id=request_id,
        )


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 or ``localhost``; anything else (0.0.0.0, names) counts as public."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_noauth_exposure(opts: ApiOpts) -> None:
    """Refuse noauth2 on a reachable address unless explicitly allowed (then warn)."""
    if opts.auth_strategy != "noauth2" or is_loopback(opts.listen):
        return
    if not opts.noauth_allow_public:
        raise UnsafeConfig(
            f"[api] auth_strategy = noauth2 trusts any caller; refusing to listen on "
            f"{opts.listen}. Use auth_strategy = keystone, listen on a loopback address, "
            "or set [api] noauth_allow_public = true."
        )
    LOG.warning(
        "[api] auth_strategy = noauth2 on %s (noauth_allow_public): anyone who reaches "
        "this address can act as any user, admin included",
        opts.listen,
    )


def make_identity(config: Config, opts: ApiOpts) -> IdentityStrategy:
    """The strategy ``opts.auth_strategy`` names (settings checked here, at startup)."""
    check_noauth_exposure(opts)
    if opts.auth_strategy == "keystone":
        from aionova.api.keystone import KeystoneIdentity

        return KeystoneIdentity(config.keystone_authtoken)
    return NoAuthIdentity(opts)
