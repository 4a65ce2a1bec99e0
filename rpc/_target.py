"""Target: where a message goes (client) or what a server or endpoint serves."""

from __future__ import annotations

from typing import Any

import msgspec

_MERGED = ("exchange", "topic", "namespace", "version", "server", "fanout")


class Target(msgspec.Struct, frozen=True):
    """An immutable address. Equality and hash cover every field.

    Drivers read ``exchange``, ``topic``, ``server`` and ``fanout``; the dispatcher
    reads ``namespace``, ``version`` and ``legacy_namespaces``.
    """

    exchange: str | None = None
    topic: str | None = None
    namespace: str | None = None
    version: str | None = None
    server: str | None = None
    fanout: bool | None = None
    legacy_namespaces: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.legacy_namespaces is not None and not isinstance(self.legacy_namespaces, tuple):
            msgspec.structs.force_setattr(self, "legacy_namespaces", tuple(self.legacy_namespaces))

    @property
    def accepted_namespaces(self) -> tuple[str | None, ...]:
        return (self.namespace, *(self.legacy_namespaces or ()))

    def __call__(self, **kwargs: Any) -> Target:
        """A copy with the given fields replaced (an explicit None clears a field).

        As in oslo.messaging, ``legacy_namespaces`` is kept only when passed again.
        """
        unknown = set(kwargs) - {*_MERGED, "legacy_namespaces"}
        if unknown:
            raise TypeError(f"unknown Target fields: {sorted(unknown)}")
        kwargs.setdefault("legacy_namespaces", None)
        return msgspec.structs.replace(self, **kwargs)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={getattr(self, k)}" for k in _MERGED if getattr(self, k))
        return f"<Target {shown}>"
