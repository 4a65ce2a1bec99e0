"""What endpoints may declare: exposure, expected exceptions, access policies."""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from aionova.rpc.errors import ExpectedException

F = TypeVar("F", bound=Callable[..., Any])


def expose(func: F) -> F:
    """Mark a method callable under ``ExplicitRPCAccessPolicy``. Only tags it."""
    func.exposed = True  # type: ignore[attr-defined]  # a plain attribute on the function
    return func


def expected_exceptions(*exceptions: type[BaseException]) -> Callable[[F], F]:
    """Re-raise the listed exceptions (and subclasses) as ``ExpectedException``.

    The server logs an expected exception at debug level only and the caller
    still receives the original exception.
    """

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await func(*args, **kwargs)
                except exceptions:
                    raise ExpectedException() from None

            return awrapper  # type: ignore[return-value]  # wraps func: same signature

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except exceptions:
                raise ExpectedException() from None

        return wrapper  # type: ignore[return-value]  # wraps func: same signature

    return decorate


class RPCAccessPolicyBase(ABC):
    """Decides whether a method of an endpoint may be called remotely."""

    @abstractmethod
    def is_allowed(self, endpoint: object, method: str) -> bool:
        """True when ``method`` of ``endpoint`` may be dispatched."""


class DefaultRPCAccessPolicy(RPCAccessPolicyBase):
    """Everything but names starting with an underscore."""

    def is_allowed(self, endpoint: object, method: str) -> bool:
        return not method.startswith("_")


class ExplicitRPCAccessPolicy(RPCAccessPolicyBase):
    """Only methods decorated with ``@expose``."""

    def is_allowed(self, endpoint: object, method: str) -> bool:
        return bool(getattr(getattr(endpoint, method, None), "exposed", False))


class LegacyRPCAccessPolicy(RPCAccessPolicyBase):
    """Any attribute, private ones included (oslo.messaging's legacy behaviour)."""

    def is_allowed(self, endpoint: object, method: str) -> bool:
        return True
