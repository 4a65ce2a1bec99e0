"""Endpoint lookup: which endpoint method serves a (namespace, version, method).

Endpoints are searched in order; the first whose target accepts the namespace
and whose version is compatible, and which has the method (allowed by the
access policy), wins. If a compatible endpoint existed but none had the method
the answer is ``NoSuchMethod``; if none was compatible, ``UnsupportedVersion``.
Lookups are pure and cached per (namespace, version, method), within bounds:
the names come from the wire, so a name longer than ``MAX_NAME_LENGTH`` is
refused without a look-up, found methods are cached up to ``_CACHE_LIMIT``
keys, and failed look-ups only in a small LRU (``_MISS_LIMIT``), so requests
naming ever new methods cannot make the cache grow.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from aionova.rpc import _version as versions
from aionova.rpc._endpoint import DefaultRPCAccessPolicy, RPCAccessPolicyBase
from aionova.rpc._target import Target
from aionova.rpc.errors import NoSuchMethod, RPCDispatcherError, UnsupportedVersion

_CACHE_LIMIT = 4096
_MISS_LIMIT = 256
#: The longest namespace, version or method name a request may carry (Python
#: identifiers and AMQP short strings are far shorter in practice).
MAX_NAME_LENGTH = 255
_SHOWN = 60  # characters of an over-long name quoted back in the error

_Key = tuple[str | None, str, str]


def _shorten(name: str) -> str:
    return f"{name[:_SHOWN]}... ({len(name)} characters, more than {MAX_NAME_LENGTH})"


class Method:
    """A resolved endpoint method and whether it must be awaited."""

    __slots__ = ("func", "is_async")

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.is_async = inspect.iscoroutinefunction(func)


class Dispatcher:
    """Resolves requests to endpoint methods."""

    def __init__(
        self,
        endpoints: Sequence[object],
        access_policy: type[RPCAccessPolicyBase] | None = None,
    ) -> None:
        policy_cls = access_policy or DefaultRPCAccessPolicy
        if not (isinstance(policy_cls, type) and issubclass(policy_cls, RPCAccessPolicyBase)):
            raise TypeError("access_policy must be a subclass of RPCAccessPolicyBase")
        self._policy = policy_cls()
        self._endpoints: list[tuple[object, tuple[str | None, ...], str]] = []
        for endpoint in endpoints:
            target = getattr(endpoint, "target", None)
            if target is None:
                target = Target()
            elif not isinstance(target, Target):
                raise TypeError(
                    "'target' is a reserved endpoint attribute and must be a rpc.Target, "
                    f"not {type(target).__name__} (on {endpoint!r})"
                )
            self._endpoints.append((endpoint, target.accepted_namespaces, target.version or "1.0"))
        self._cache: dict[_Key, Method] = {}
        self._misses: OrderedDict[_Key, RPCDispatcherError] = OrderedDict()

    def lookup(self, namespace: str | None, version: str | None, method: str) -> Method:
        """The method serving this request; raises NoSuchMethod or UnsupportedVersion."""
        key = (namespace, version or "1.0", method)
        found = self._cache.get(key)
        if found is not None:
            return found
        miss = self._misses.get(key)
        if miss is not None:
            self._misses.move_to_end(key)
        else:
            if _oversized(key):
                raise _refusal(*key)  # never cached
            resolved = self._resolve(*key)
            if isinstance(resolved, Method):
                if len(self._cache) < _CACHE_LIMIT:
                    self._cache[key] = resolved
                return resolved
            miss = self._misses[key] = resolved
            if len(self._misses) > _MISS_LIMIT:
                self._misses.popitem(last=False)
        # A fresh exception each time: a raised one collects a traceback.
        raise type(miss)(*miss.args, **miss.kwargs)

    def _resolve(
        self, namespace: str | None, version: str, method: str
    ) -> Method | RPCDispatcherError:
        try:
            versions.parse(version)
        except (ValueError, AttributeError):
            return UnsupportedVersion(str(version), method=method)
        compatible = False
        for endpoint, namespaces, implemented in self._endpoints:
            if namespace not in namespaces or not versions.is_compatible(implemented, version):
                continue
            if hasattr(endpoint, method) and self._policy.is_allowed(endpoint, method):
                func = getattr(endpoint, method)
                if callable(func):
                    return Method(func)
            compatible = True
        if compatible:
            return NoSuchMethod(method)
        return UnsupportedVersion(version, method=method)


def _oversized(key: _Key) -> bool:
    namespace, version, method = key
    return (
        len(method) > MAX_NAME_LENGTH
        or len(version) > MAX_NAME_LENGTH
        or (namespace is not None and len(namespace) > MAX_NAME_LENGTH)
    )


def _refusal(namespace: str | None, version: str, method: str) -> RPCDispatcherError:
    """The error for a request naming something longer than ``MAX_NAME_LENGTH``.

    The name is quoted shortened: the error travels back to the caller.
    """
    if len(method) > MAX_NAME_LENGTH:
        return NoSuchMethod(_shorten(method))
    if len(version) > MAX_NAME_LENGTH:
        return UnsupportedVersion(_shorten(version), method=method)
    return UnsupportedVersion(version, method=method)  # no endpoint has such a namespace
