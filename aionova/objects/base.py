"""Versioned objects: msgspec Structs with change tracking and their wire form.

An object read from a store remembers that store (the database on control
nodes, the conductor RPC client on computes) and the context it was read with,
so ``await instance.save(expected_task_state=...)`` works the same everywhere.
``NovaObject[S]`` is bound to an ``S``: the part of ``ObjectStore`` (store.py) the
object's own methods use (``InstanceStore`` for an Instance …).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Generic, Self, TypeVar

import msgspec

from aionova import exception
from aionova.context import RequestContext

S = TypeVar("S")

_REGISTRY: dict[str, type[NovaObject[Any]]] = {}
_NAME = "nova_object.name"
_VERSION = "nova_object.version"
_DATA = "nova_object.data"
_astuple = msgspec.structs.astuple


class NovaObject(msgspec.Struct, Generic[S], kw_only=True, dict=True):
    """Base of every object. Subclasses set ``VERSION`` (major.minor); ``S`` is what the
    object's methods need of the store it is bound to."""

    VERSION: ClassVar[str] = "1.0"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __post_init__(self) -> None:
        self.obj_reset_changes()

    # -- change tracking ---------------------------------------------------
    # The stored values are kept as one tuple in field order (``astuple`` is a
    # single C call; this runs for every object built, decoded or saved).
    def obj_reset_changes(self) -> None:
        """Forget pending changes: the current values are the stored ones."""
        self._orig = _astuple(self)

    def obj_what_changed(self) -> dict[str, Any]:
        """Fields whose value differs from the last stored one."""
        return {
            f: v
            for f, v, o in zip(self.__struct_fields__, _astuple(self), self._orig, strict=True)
            if v != o
        }

    def obj_refresh_from(self, other: Self) -> None:
        """Copy every field of ``other`` (same class) into self and reset changes."""
        values = _astuple(other)
        for f, v in zip(self.__struct_fields__, values, strict=True):
            setattr(self, f, v)
        self._orig = values

    # -- binding ------------------------------------------------------------
    def bind(self, ctxt: RequestContext | None, store: S | None) -> Self:
        """Remember the context and store used by ``save`` and friends."""
        self._context = ctxt
        self._store = store
        return self

    @property
    def store(self) -> S:
        store: S | None = self.__dict__.get("_store")
        if store is None:
            raise exception.NovaException(f"{type(self).__name__} is not bound to a store")
        return store

    @property
    def context(self) -> RequestContext | None:
        return self.__dict__.get("_context")

    def obj_to_primitive(self) -> dict[str, Any]:
        """The versioned wire form."""
        return {
            _NAME: type(self).__name__,
            _VERSION: self.VERSION,
            _DATA: msgspec.to_builtins(self),
        }


@functools.lru_cache(maxsize=256)
def _accepts(cls: type[NovaObject[Any]], version: str) -> bool:
    """Whether ``cls`` can read data of ``version`` (same major, minor not newer)."""
    have_major, have_minor = (int(x) for x in cls.VERSION.split("."))
    major, minor = (int(x) for x in version.split("."))
    return major == have_major and minor <= have_minor


def obj_from_primitive(primitive: dict[str, Any]) -> NovaObject[Any]:
    """Rebuild an object; refuses another major version or a newer minor one."""
    name, version = primitive[_NAME], primitive[_VERSION]
    cls = _REGISTRY.get(name)
    if cls is None:
        raise exception.ObjectVersionError(objname=name, objver=version, supported="none")
    if not _accepts(cls, str(version)):
        raise exception.ObjectVersionError(objname=name, objver=version, supported=cls.VERSION)
    obj: NovaObject[Any] = msgspec.convert(primitive[_DATA], cls, strict=False)
    return obj


NAME_KEY = _NAME
"""The key that marks a dict as an object's wire form."""
