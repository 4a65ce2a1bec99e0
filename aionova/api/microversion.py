"""Microversions: ``2.N`` values, the supported range, and the request headers that carry them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from aionova.api.faults import HTTPFault


class Version(NamedTuple):
    """A compute API microversion; compares as integers (2.10 > 2.9)."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        return self >= parse(text)

    def between(self, low: str, high: str) -> bool:
        return parse(low) <= self <= parse(high)


_RE = re.compile(r"^(\d+)\.(\d+)$")


def parse(text: str) -> Version:
    """``"2.53"`` → Version(2, 53); ValueError otherwise."""
    match = _RE.match(text.strip())
    if match is None:
        raise ValueError(f"invalid version string {text!r}")
    return Version(int(match[1]), int(match[2]))


MIN_VERSION = Version(2, 1)
MAX_VERSION = Version(2, 60)


def _header_value(headers: Mapping[str, str]) -> str | None:
    """OpenStack-API-Version (``compute 2.N``) wins over X-OpenStack-Nova-API-Version."""
    generic = headers.get("OpenStack-API-Version")
    if generic:
        for item in generic.split(","):
            service, _, value = item.strip().partition(" ")
            if service.lower() == "compute" and value.strip():
                return value.strip()
    legacy = headers.get("X-OpenStack-Nova-API-Version")
    return legacy.strip() if legacy else None


def from_headers(headers: Mapping[str, str]) -> Version:
    """The request's microversion: none → 2.1, ``latest`` → the maximum, outside → 406."""
    value = _header_value(headers)
    if value is None or value in ("2", "2.0"):
        return MIN_VERSION
    if value.lower() == "latest":
        return MAX_VERSION
    try:
        version = parse(value)
    except ValueError:
        raise HTTPFault(400, f"Invalid API version request: {value[:40]}") from None
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise HTTPFault(
            406,
            f"Version {version} is not supported by the API. "
            f"Minimum is {MIN_VERSION} and maximum is {MAX_VERSION}.",
        )
    return version
