"""Weighers: higher total weight wins. Each weigher's values are min-max normalised.

The scheduler usually needs only the best host or two that pass its filters,
so ``ranked`` yields hosts best first lazily: the best one by ``max``, then
the top few by a partial selection (``heapq.nlargest``), more only if the
filters reject those. A full sort per request would make every boot cost
O(n log n) in the number of hosts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

from aionova.objects import RequestSpec

if TYPE_CHECKING:
    from aionova.scheduler.host_state import HostState

# Each round of the lazy ranking ranks this many times more hosts than the last.
FACTOR = 8
T = TypeVar("T")


class RAMWeigher:
    """Spread: prefer the host with the most free RAM (multiplier < 0 stacks instead)."""

    key = staticmethod(attrgetter("free_ram_mb"))  # one host's raw value

    def __init__(self, multiplier: float = 1.0) -> None:
        self.multiplier = multiplier

    def raw(self, hosts: list[HostState], spec: RequestSpec) -> list[float]:
        """One value per host; a list at once, since this runs for every host per request."""
        return [float(h.free_ram_mb) for h in hosts]


def _normalize(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        return [0.0] * len(values)
    span = hi - lo
    return [(v - lo) / span for v in values]


def _totals(hosts: list[HostState], spec: RequestSpec, weighers: list[RAMWeigher]) -> list[float]:
    """The total weight of each host: the multiplier-weighted sum of normalised values."""
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        normalized = _normalize(weigher.raw(hosts, spec))
        totals = [t + weigher.multiplier * n for t, n in zip(totals, normalized, strict=True)]
    return totals


def ranked(
    hosts: list[HostState], spec: RequestSpec, weighers: list[RAMWeigher]
) -> Iterator[HostState]:
    """The hosts best first, as a stable sort by descending weight would give them.

    Lazy: stop iterating and the rest is never ordered.
    """
    active = [w for w in weighers if w.multiplier != 0]
    if not active:
        yield from hosts
        return
    if len(active) == 1:  # normalising one weigher does not change the order
        key: Callable[[Any], float] = active[0].key
        descending = active[0].multiplier > 0
        yield from _best_first(hosts, key, descending)
        return
    totals = _totals(hosts, spec, active)
    for i in _best_first(range(len(hosts)), totals.__getitem__, True):
        yield hosts[i]


def _best_first(items: Sequence[T], key: Callable[[T], float], descending: bool) -> Iterator[T]:
    """``sorted(items, key=key, reverse=descending)``, produced in growing rounds.

    ``heapq.nlargest(n)`` is documented to equal ``sorted(..., reverse=True)[:n]``
    (ties in input order), and ``nsmallest`` the ascending sort, so every round
    extends the previous round's prefix. The first round (one item) is a plain
    ``max``/``min`` in C. The keys are read once, up front: the caller awaits
    between items (a claim) while other requests change the hosts, and rounds
    ranked on changed keys would skip some items and repeat others.
    """
    values = list(map(key, items))
    order = range(len(items))
    pick = heapq.nlargest if descending else heapq.nsmallest
    done, size = 0, 1
    while done < len(items):
        if size < len(items):
            top = pick(size, order, key=values.__getitem__)
        else:
            top = sorted(order, key=values.__getitem__, reverse=descending)
        for index in top[done:]:
            yield items[index]
        done, size = len(top), size * FACTOR


def weigh(hosts: list[HostState], spec: RequestSpec, weighers: list[RAMWeigher]) -> list[HostState]:
    """All the hosts, best first."""
    return list(ranked(hosts, spec, weighers))
