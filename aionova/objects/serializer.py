"""The RPC serializer of the control plane: objects as versioned primitives, contexts as
``RequestContext``, and objects that arrive bound to the receiving service's store."""

from __future__ import annotations

from typing import Any

from aionova.context import RequestContext
from aionova.objects.base import NAME_KEY, NovaObject, obj_from_primitive
from aionova.objects.store import ObjectStore

_SCALARS = frozenset({str, int, float, bool, type(None)})


class ObjectSerializer:
    """rpc Serializer: objects as versioned primitives, contexts as RequestContext.

    Objects arriving over RPC are bound to ``store`` (the receiving service's
    view of persistence) and to the request's context.
    """

    def __init__(self, store: ObjectStore | None = None) -> None:
        self.store = store

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        if type(entity) in _SCALARS:
            return entity
        if isinstance(entity, NovaObject):
            return entity.obj_to_primitive()
        ser = self.serialize_entity
        if isinstance(entity, (list, tuple)):
            return [e if type(e) in _SCALARS else ser(ctxt, e) for e in entity]
        if isinstance(entity, dict):
            return {k: v if type(v) in _SCALARS else ser(ctxt, v) for k, v in entity.items()}
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        if type(entity) in _SCALARS:
            return entity
        de = self.deserialize_entity
        if isinstance(entity, dict):
            if NAME_KEY in entity:
                obj = obj_from_primitive(entity)
                return obj.bind(ctxt, self.store)
            return {k: v if type(v) in _SCALARS else de(ctxt, v) for k, v in entity.items()}
        if isinstance(entity, list):
            return [e if type(e) in _SCALARS else de(ctxt, e) for e in entity]
        return entity

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        if ctxt is None:
            return {}
        return ctxt if isinstance(ctxt, dict) else ctxt.to_dict()

    def deserialize_context(self, ctxt: dict[str, Any]) -> RequestContext:
        return RequestContext.from_dict(ctxt)
