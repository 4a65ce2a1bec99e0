"""The conformance kit as pytest tests: subclass ``DriverConformance``.

::

    from aionova.rpc.testing import DriverConformance

    class TestMyDriver(DriverConformance):
        transport_url = "mydriver://"          # a driver registered by entry point

    class TestMyWrappedDriver(DriverConformance):
        @pytest.fixture
        def conformance_transports(self):      # any driver, no entry point needed
            return driver_transports(lambda: MyDriver("mydriver://"))

Each check becomes one test method ``test_<check name>``. The tests are plain
(synchronous) functions that run their check with ``asyncio.run``, so they need
no asyncio plugin. This module imports pytest; ``aionova.rpc.testing`` does not.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from aionova.rpc.testing._harness import TransportFactory, url_transports
from aionova.rpc.testing._kit import CHECK_TIMEOUT, CHECKS, Check, run_check


class DriverConformance:
    """Base class of a driver's conformance tests (one test per check).

    Set ``transport_url`` or override the ``conformance_transports`` fixture
    (it may use other fixtures); ``check_timeout`` bounds each check.
    """

    transport_url: ClassVar[str | None] = None
    check_timeout: ClassVar[float] = CHECK_TIMEOUT

    @pytest.fixture
    def conformance_transports(self) -> TransportFactory:
        if self.transport_url is None:
            pytest.fail(
                f"{type(self).__name__}: set transport_url or override the "
                "conformance_transports fixture",
                pytrace=False,
            )
        return url_transports(self.transport_url)


def _test_for(name: str, check: Check) -> Any:
    def test(self: DriverConformance, conformance_transports: TransportFactory) -> None:
        asyncio.run(run_check(check, conformance_transports, timeout=self.check_timeout))

    test.__name__ = test.__qualname__ = f"test_{name}"
    test.__doc__ = check.__doc__
    return test


for _name, _check in CHECKS.items():
    setattr(DriverConformance, f"test_{_name}", _test_for(_name, _check))
del _name, _check
