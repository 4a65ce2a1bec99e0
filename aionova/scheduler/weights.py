"""Weighers: higher total weight wins. Each weigher's values are min-max normalised."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

from aionova.objects import RequestSpec

if TYPE_CHECKING:
    from aionova.scheduler.host_manager import HostState


class RAMWeigher:
    """Spread: prefer the host with the most free RAM (multiplier < 0 stacks instead)."""

    def __init__(self, multiplier: float = 1.0) -> None:
        self.multiplier = multiplier

    def raw(self, hosts: list[HostState], spec: RequestSpec) -> list[float]:
        """One value per host; a list at once, since this runs for every host per request."""
        return [float(h.free_ram_mb) for h in hosts]

    def order(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        """Hosts best first by this weigher alone (one C-level sort, no scores kept)."""
        if self.multiplier == 0:
            return list(hosts)
        return sorted(hosts, key=_FREE_RAM, reverse=self.multiplier > 0)


_FREE_RAM = attrgetter("free_ram_mb")


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
    if len(weighers) == 1:  # normalising one weigher does not change the order
        if weighers[0].multiplier == 0:
            return list(hosts)
        values = weighers[0].raw(hosts, spec)
        order = sorted(
            range(len(hosts)), key=values.__getitem__, reverse=weighers[0].multiplier > 0
        )
        return [hosts[i] for i in order]
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        normalized = _normalize(weigher.raw(hosts, spec))
        totals = [t + weigher.multiplier * n for t, n in zip(totals, normalized, strict=True)]
    order = sorted(range(len(hosts)), key=totals.__getitem__, reverse=True)
    return [hosts[i] for i in order]
