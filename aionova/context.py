"""The request context: who asks, and the request id that follows the work across services."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec


def _request_id() -> str:
    return f"req-{uuid.uuid4()}"


class RequestContext(msgspec.Struct, kw_only=True):
    """Security and tracing context; travels over RPC as a dict.

    Under Keystone the identity fields come from the validated token only;
    ``service_catalog`` is the token's catalog in keystonemiddleware's normalized form,
    filtered to the service types Nova keeps. The token itself is not kept.
    """

    user_id: str | None = None
    project_id: str | None = None
    roles: list[str] = []
    is_admin: bool = False
    request_id: str = msgspec.field(default_factory=_request_id)
    read_deleted: str = "no"
    user_name: str | None = None
    project_name: str | None = None
    user_domain_id: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    system_scope: str | None = None
    service_catalog: list[dict[str, Any]] = []

    def to_dict(self) -> dict[str, Any]:
        """The wire form (plain JSON values)."""
        return msgspec.structs.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RequestContext:
        """Rebuild from the wire form, ignoring keys it does not know (e.g. client_timeout)."""
        known = {k: v for k, v in values.items() if k in cls.__struct_fields__}
        return msgspec.convert(known, cls)

    def to_policy_values(self) -> dict[str, Any]:
        """The credentials a policy rule sees (oslo.context's names)."""
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "roles": list(self.roles),
            "domain_id": self.domain_id,
            "user_domain_id": self.user_domain_id,
            "project_domain_id": self.project_domain_id,
            "system_scope": self.system_scope,
            "is_admin_project": True,
            "is_admin": self.is_admin,
        }

    def elevated(self) -> RequestContext:
        """A copy with admin rights."""
        roles = self.roles if "admin" in self.roles else [*self.roles, "admin"]
        return msgspec.structs.replace(self, is_admin=True, roles=roles)


def get_admin_context() -> RequestContext:
    """A context for the services' own work (periodic tasks, startup)."""
    return RequestContext(is_admin=True, roles=["admin"])
