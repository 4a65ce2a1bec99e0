"""The API process: the Nova-compatible REST app (aiohttp; a subset of compute API v2.1
with microversions) and, in ``api/compute/``, the compute API it calls.

``create_app`` is loaded on first use, so code that needs only the compute API (the
all-in-one's Python API, benches) does not import the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aionova.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from aionova.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
