"""Endpoint lookup: which endpoint method serves a (namespace, version, method).

Endpoints are searched in order; the first whose target accepts the namespace
and whose version is compatible, and which has the method (allowed by the
access policy), wins. If a compatible endpoint existed but none had the method
the answer is ``NoSuchMethod``; if none was compatible, ``UnsupportedVersion``.
Lookups are pure and cached per (namespace, version, method).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from aionova.rpc import _version as versions
from aionova.rpc._endpoint import DefaultRPCAccessPolicy, RPCAccessPolicyBase
from aionova.rpc._target import Target
from aionova.rpc.errors import NoSuchMethod, UnsupportedVersion

_CACHE_LIMIT = 4096


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
        self._cache: dict[tuple[str | None, str, str], Method | Exception] = {}

    def lookup(self, namespace: str | None, version: str | None, method: str) -> Method:
        """The method serving this request; raises NoSuchMethod or UnsupportedVersion."""
        key = (namespace, version or "1.0", method)
        found = self._cache.get(key)
        if found is None:
            found = self._resolve(*key)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = found
        if isinstance(found, Exception):
            raise type(found)(*found.args, **found.kwargs)  # type: ignore[attr-defined]
        return found

    def _resolve(self, namespace: str | None, version: str, method: str) -> Method | Exception:
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
