"""Weighers: higher total weight wins. Each weigher's values are min-max normalised."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aionova.objects import RequestSpec

if TYPE_CHECKING:
    from aionova.scheduler.host_manager import HostState


class RAMWeigher:
    """Spread: prefer the host with the most free RAM (multiplier < 0 stacks instead)."""

    def __init__(self, multiplier: float = 1.0) -> None:
        self.multiplier = multiplier

    def raw(self, host: HostState, spec: RequestSpec) -> float:
        return float(host.free_ram_mb)


def _normalize(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        return [0.0] * len(values)
    span = hi - lo
    return [(v - lo) / span for v in values]


def weigh(hosts: list[HostState], spec: RequestSpec, weighers: list[RAMWeigher]) -> list[HostState]:
    """The hosts sorted best first."""
    if not hosts or not weighers:
        return list(hosts)
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        normalized = _normalize([weigher.raw(h, spec) for h in hosts])
        totals = [t + weigher.multiplier * n for t, n in zip(totals, normalized, strict=True)]
    order = sorted(range(len(hosts)), key=totals.__getitem__, reverse=True)
    return [hosts[i] for i in order]
