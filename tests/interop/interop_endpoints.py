"""Endpoints and exceptions shared by both sides (importable by name on both)."""

from __future__ import annotations

import threading
from typing import Any


class AllowedError(Exception):
    """Rebuilt on the caller's side: its module is in allowed_remote_exmods."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.kwargs = {"code": code}
        self.code = code


class Endpoint:
    """Plain synchronous methods, so oslo.messaging (threads) and aionova both serve them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.casts: list[Any] = []
        self.lock = threading.Lock()

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return self.name

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    def context(self, ctxt: Any) -> dict[str, Any]:
        return {k: v for k, v in dict(ctxt).items() if k in ("user", "request_id")}

    def note(self, ctxt: dict[str, Any], n: int) -> None:
        with self.lock:
            self.casts.append(n)

    def fail_builtin(self, ctxt: dict[str, Any]) -> None:
        raise ValueError("bad value")

    def fail_allowed(self, ctxt: dict[str, Any]) -> None:
        raise AllowedError("allowed", code=7)
