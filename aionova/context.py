"""The request context: who asks, and the request id that follows the work across services."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec


def _request_id() -> str:
    return f"req-{uuid.uuid4()}"


class RequestContext(msgspec.Struct, kw_only=True):
    """Security and tracing context; travels over RPC as a dict."""

    user_id: str | None = None
    project_id: str | None = None
    roles: list[str] = []
    is_admin: bool = False
    request_id: str = msgspec.field(default_factory=_request_id)
    read_deleted: str = "no"

    def to_dict(self) -> dict[str, Any]:
        """The wire form (plain JSON values)."""
        return msgspec.structs.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RequestContext:
        """Rebuild from the wire form, ignoring keys it does not know (e.g. client_timeout)."""
        known = {k: v for k, v in values.items() if k in cls.__struct_fields__}
        return msgspec.convert(known, cls)

    def elevated(self) -> RequestContext:
        """A copy with admin rights."""
        roles = self.roles if "admin" in self.roles else [*self.roles, "admin"]
        return msgspec.structs.replace(self, is_admin=True, roles=roles)


def get_admin_context() -> RequestContext:
    """A context for the services' own work (periodic tasks, startup)."""
    return RequestContext(is_admin=True, roles=["admin"])
