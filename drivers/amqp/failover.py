"""Which broker the next connection attempt goes to (``kombu_failover_strategy``).

Pure: no I/O, tested without a broker. A *round* is one attempt at every host.

* ``round-robin`` (oslo.messaging's default): the URL's hosts in the order they are
  written, starting with the first; after the connected host fails, the next one
  in the list, and so on around. The operator's order decides where a process
  goes first (oslo.messaging shuffles the list once per process before cycling;
  we keep the written order, so the first node is the one every process prefers
  and a list written in another order on another machine spreads them).
* ``shuffle``: a new random order for every round, every host once per round.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from aionova.drivers.amqp.settings import FAILOVER_STRATEGIES, Host


class HostCycle:
    """An endless sequence of hosts to try, one round (every host once) after another.

    ``connected(host)`` ends the current round: the next attempt (after that
    connection is lost) starts a new one, with the host after ``host``
    (round-robin) or in a new random order (shuffle).
    """

    def __init__(
        self,
        hosts: Sequence[Host],
        strategy: str = "round-robin",
        rng: random.Random | None = None,
    ) -> None:
        if not hosts:
            raise ValueError("no broker host to connect to")
        if strategy not in FAILOVER_STRATEGIES:
            raise ValueError(f"unknown failover strategy {strategy!r}")
        self._hosts = tuple(hosts)
        self._strategy = strategy
        self._rng = rng or random.Random()
        self._round: list[Host] = []
        self._start = 0  # round-robin: where the next round starts in the URL's list

    @property
    def hosts(self) -> tuple[Host, ...]:
        """The hosts in the URL's order."""
        return self._hosts

    def next(self) -> Host:
        """The host of the next attempt."""
        if not self._round:
            self._round = self._new_round()
        host = self._round.pop(0)
        if self._strategy == "round-robin":
            self._start = (self._hosts.index(host) + 1) % len(self._hosts)
        return host

    def connected(self, host: Host) -> None:
        """``host`` took the connection: the round is over."""
        self._round = []
        if self._strategy == "round-robin" and host in self._hosts:
            self._start = (self._hosts.index(host) + 1) % len(self._hosts)

    def _new_round(self) -> list[Host]:
        if self._strategy == "shuffle":
            order = list(self._hosts)
            self._rng.shuffle(order)
            return order
        return [*self._hosts[self._start :], *self._hosts[: self._start]]
