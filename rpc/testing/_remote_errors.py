"""Exceptions the conformance checks raise from endpoints.

A check's client transport allows this module (``REMOTE_ERRORS_MODULE``) in
``allowed_remote_exmods``, so ``QuotaExceeded`` comes back rebuilt with its
keyword arguments; a transport that does not allow it gets ``RemoteError``.
"""

from __future__ import annotations

REMOTE_ERRORS_MODULE = __name__


class QuotaExceeded(Exception):
    """Nova-style: a message template and keyword arguments kept in ``kwargs``."""

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        self.kwargs = kwargs
        super().__init__(message or f"quota exceeded: {kwargs}")


class NotAllowedHere(Exception):
    """Raised from a module a client may be told not to allow."""
