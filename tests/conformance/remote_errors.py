"""Exceptions a test endpoint raises; the client transport allows this module."""


class QuotaExceeded(Exception):
    """Nova-style: a message template and keyword arguments kept in ``kwargs``."""

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        self.kwargs = kwargs
        super().__init__(message or f"quota exceeded: {kwargs}")


class NotAllowedHere(Exception):
    """Raised from a module the client does not allow (see test_conformance)."""
