"""Nova-style error bodies: ``{"badRequest": {"code": 400, "message": ...}}``."""

from __future__ import annotations

from aionova import exception

KINDS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}


class HTTPFault(Exception):
    """An error the API answers with ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def body(self) -> dict[str, dict[str, object]]:
        kind = KINDS.get(self.status, "computeFault")
        return {kind: {"code": self.status, "message": self.message}}


def bad_request(message: str) -> HTTPFault:
    return HTTPFault(400, message)


def not_found(message: str) -> HTTPFault:
    return HTTPFault(404, message)


def conflict(message: str) -> HTTPFault:
    return HTTPFault(409, message)


def forbidden(action: str) -> HTTPFault:
    return HTTPFault(403, f"Policy doesn't allow {action} to be performed.")


def from_nova(exc: exception.NovaException) -> HTTPFault:
    """Map the control plane's exceptions onto HTTP (anything unknown stays a 500)."""
    if isinstance(exc, exception.NotFound):
        return HTTPFault(404, exc.message)
    if isinstance(exc, (exception.InstanceInvalidState, exception.InstanceUpdateConflict)):
        return HTTPFault(409, exc.message)
    code = int(exc.kwargs.get("code", exc.code) or 500)
    if code in (400, 403, 409):
        return HTTPFault(code, exc.message)
    if isinstance(exc, exception.Invalid):
        return HTTPFault(400, exc.message)
    return HTTPFault(500, "Unexpected API Error. Please report this at the project's tracker.")
