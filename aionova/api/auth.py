"""Identity without Keystone (in the spirit of Nova's noauth) and the few policy rules we need.

* ``X-Auth-Token: notused`` (keystoneauth's ``none`` plugin), or no token: the admin
  user of ``[api] default_project``.
* ``X-Auth-Token: user:project`` (Nova's noauth2 form): that user in that project;
  admin when the user is ``admin``.
* ``X-User-Id`` / ``X-Project-Id`` / ``X-Roles`` headers (keystonemiddleware's names)
  override the token; ``admin`` in ``X-Roles`` makes an admin.
"""

from __future__ import annotations

from collections.abc import Mapping

from aionova.api.faults import HTTPFault, forbidden
from aionova.config import ApiOpts
from aionova.context import RequestContext

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")


def _clean(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 255 or not set(value) <= _NAME_OK:
        raise HTTPFault(401, f"Invalid {what} in the request credentials.")
    return value


def context_from_headers(
    headers: Mapping[str, str], opts: ApiOpts, request_id: str
) -> RequestContext:
    """The caller's context; an unusable token is a 401."""
    token = headers.get("X-Auth-Token", "").strip()
    user, project = opts.default_user, opts.default_project
    roles: list[str] = ["admin", "member", "reader"]
    if token and token != "notused":
        if ":" not in token:
            raise HTTPFault(401, "Authentication required: use 'user:project' as the token.")
        raw_user, _, raw_project = token.partition(":")
        user, project = _clean(raw_user, "user"), _clean(raw_project, "project")
        roles = ["admin", "member", "reader"] if user == "admin" else ["member", "reader"]
    if headers.get("X-User-Id"):
        user = _clean(headers["X-User-Id"], "user")
    if headers.get("X-Project-Id"):
        project = _clean(headers["X-Project-Id"], "project")
    if headers.get("X-Roles") is not None:
        roles = [r.strip().lower() for r in headers["X-Roles"].split(",") if r.strip()]
    return RequestContext(
        user_id=user,
        project_id=project,
        roles=roles,
        is_admin="admin" in roles,
        request_id=request_id,
    )


def require_admin(ctxt: RequestContext, action: str) -> None:
    """403 unless the caller is an admin."""
    if not ctxt.is_admin:
        raise forbidden(action)


def can_see(ctxt: RequestContext, project_id: str | None) -> bool:
    """Admins see every project; others only their own."""
    return ctxt.is_admin or project_id == ctxt.project_id
