"""Testing aids for services and drivers on ``aionova.rpc``, and the driver conformance kit.

Importing this package needs nothing but the base install (no pytest):

* ``RecordingEndpoint`` (and ``wait_for_total``), ``capture``, ``send_raw``,
  ``request_body``: record what an endpoint receives, look at the raw messages
  on a target's queues, publish a body as it is.
* The conformance kit: the behaviour every driver must show (routing, replies,
  timeouts, the error round-trip, oslo.messaging's wire format) as plain async
  checks. Describe the driver under test with a ``TransportFactory``
  (``url_transports(url)`` or ``driver_transports(make_driver)``), then either
  ``await check_driver(factory)`` from any test runner, or subclass
  ``DriverConformance`` in a pytest module (that class, and only it, imports
  pytest, when first used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aionova.rpc.testing._harness import (
    Harness,
    TransportFactory,
    driver_transports,
    expect_error,
    url_transports,
)
from aionova.rpc.testing._kit import (
    CHECK_TIMEOUT,
    CHECKS,
    ConformanceError,
    check_driver,
    run_check,
)
from aionova.rpc.testing._recording import (
    Captured,
    RecordingEndpoint,
    capture,
    request_body,
    send_raw,
    wait_for_total,
)
from aionova.rpc.testing._remote_errors import REMOTE_ERRORS_MODULE, NotAllowedHere, QuotaExceeded

if TYPE_CHECKING:
    from aionova.rpc.testing._pytest_kit import DriverConformance

__all__ = [
    "CHECKS",
    "CHECK_TIMEOUT",
    "REMOTE_ERRORS_MODULE",
    "Captured",
    "ConformanceError",
    "DriverConformance",
    "Harness",
    "NotAllowedHere",
    "QuotaExceeded",
    "RecordingEndpoint",
    "TransportFactory",
    "capture",
    "check_driver",
    "driver_transports",
    "expect_error",
    "request_body",
    "run_check",
    "send_raw",
    "url_transports",
    "wait_for_total",
]


def __getattr__(name: str) -> Any:
    """``DriverConformance`` imports pytest: load it only when asked for."""
    if name == "DriverConformance":
        from aionova.rpc.testing._pytest_kit import DriverConformance

        return DriverConformance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
