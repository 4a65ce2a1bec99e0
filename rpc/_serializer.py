"""Serializers turn rich values and contexts into wire primitives and back."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Serializer(Protocol):
    """Converts entities (arguments, results) and the request context.

    ``serialize_context`` must return a dict of JSON-ready values; every other
    method may return anything the codec can encode.
    """

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any: ...

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any: ...

    def serialize_context(self, ctxt: Any) -> dict[str, Any]: ...

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any: ...


class NoOpSerializer:
    """Passes entities through; contexts travel as dicts (or their ``to_dict()``)."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        return context_to_dict(ctxt)

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        return ctxt


def context_to_dict(ctxt: Any) -> dict[str, Any]:
    """A context as a dict: dicts as they are, objects through ``to_dict()``, None as {}."""
    if ctxt is None:
        return {}
    if isinstance(ctxt, dict):
        return ctxt
    to_dict = getattr(ctxt, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"a context must be a dict or have to_dict(), not {type(ctxt).__name__}")
    result = to_dict()
    if not isinstance(result, dict):
        raise TypeError("context.to_dict() must return a dict")
    return result
