"""The conductor's database pass-through, generated from ``ObjectStore``.

Both sides of the computes' persistence come from the protocol, method by method, with
its exact parameters, so neither can drift from it or from each other:

* ``client_methods()``: coroutine methods that send ``method(**arguments)`` as an RPC
  call at the method's ``@since`` version (``ConductorAPI`` in rpcapi.py);
* ``endpoint_methods()``: coroutine methods that run the same call on the conductor's
  store (the ``Database``), its exceptions expected (``ConductorManager``, manager.py).

The generated functions are compiled from their parameter lists, so a call costs what
a hand-written method would (no signature binding per call).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aionova.objects.store import since_of, store_methods

Method = Callable[..., Any]

_CLIENT = """
async def {name}({params}):
    return await self._call({ctxt}, {name!r}, {version!r}, {{{arguments}}})
"""
_ENDPOINT = """
async def {name}({params}):
    try:
        return await self.store.{name}({ctxt}, {forward})
    except _expected:
        raise _wrap() from None
"""


def _parts(func: Method) -> tuple[str, str, list[str], list[str]]:
    """(params source, context name, positional names, keyword-only names) without
    defaults or annotations (those are copied from the protocol afterwards)."""
    sig = inspect.signature(func)
    params: list[str] = []
    positional: list[str] = []
    keyword: list[str] = []
    for param in sig.parameters.values():
        if param.kind is param.KEYWORD_ONLY:
            if not keyword:
                params.append("*")
            keyword.append(param.name)
        elif param.kind is param.POSITIONAL_OR_KEYWORD:
            positional.append(param.name)
        else:
            raise TypeError(f"ObjectStore.{func.__name__}: *args/**kwargs cannot go over RPC")
        params.append(param.name)
    if positional[:2] != ["self", "ctxt"]:
        raise TypeError(f"ObjectStore.{func.__name__} must take (self, ctxt, ...)")
    return ", ".join(params), "ctxt", positional[2:], keyword


def _compile(source: str, name: str, proto: Method, namespace: dict[str, Any]) -> Method:
    exec(compile(source, f"<ObjectStore.{name} pass-through>", "exec"), namespace)
    func: Method = namespace[name]
    func.__defaults__ = proto.__defaults__
    func.__kwdefaults__ = proto.__kwdefaults__
    func.__annotations__ = dict(proto.__annotations__)
    func.__doc__ = proto.__doc__
    func.__qualname__ = f"{{generated}}.{name}"
    return func


def client_methods() -> dict[str, Method]:
    """One ``async def name(self, ctxt, …)`` per protocol method, calling
    ``self._call(ctxt, name, version, {argument: value …})``."""
    methods = {}
    for name, proto in store_methods().items():
        params, ctxt, positional, keyword = _parts(proto)
        arguments = ", ".join(f"{a!r}: {a}" for a in (*positional, *keyword))
        source = _CLIENT.format(
            name=name, params=params, ctxt=ctxt, version=since_of(proto), arguments=arguments
        )
        methods[name] = _compile(source, name, proto, {})
    return methods


def endpoint_methods(
    expected: tuple[type[BaseException], ...], wrap: Callable[[], BaseException]
) -> dict[str, Method]:
    """One ``async def name(self, ctxt, …)`` per protocol method, awaiting
    ``self.store.name(ctxt, …)``; ``expected`` exceptions are re-raised as ``wrap()``
    (the RPC layer's ExpectedException: logged at debug, the caller gets the original)."""
    methods = {}
    for name, proto in store_methods().items():
        params, ctxt, positional, keyword = _parts(proto)
        forward = ", ".join([*positional, *(f"{k}={k}" for k in keyword)])
        source = _ENDPOINT.format(name=name, params=params, ctxt=ctxt, forward=forward)
        namespace: dict[str, Any] = {"_expected": expected, "_wrap": wrap}
        methods[name] = _compile(source, name, proto, namespace)
    return methods
