"""SchedulerManager: select_destinations over filters and weighers."""

from __future__ import annotations

import random
from typing import Any

from aionova import exception, rpc
from aionova.config import Config
from aionova.context import RequestContext
from aionova.manager import Manager
from aionova.objects import RequestSpec
from aionova.objects.store import ObjectStore
from aionova.scheduler.filters import BaseHostFilter, build_filters
from aionova.scheduler.host_manager import HostManager
from aionova.scheduler.host_state import HostState
from aionova.scheduler.utils import request_is_rebuild
from aionova.scheduler.weights import RAMWeigher, ranked
from aionova.servicegroup import ServiceGroupAPI


class SchedulerManager(Manager):
    """Target 4.3. Chooses hosts and consumes their resources in its own view.

    Hosts are weighed first and filtered best-first until ``host_subset_size``
    pass: the same choice as filter-then-weigh, without filtering (or even
    fully ordering) every host.
    """

    service_name = "scheduler"
    target = rpc.Target(version="4.3")

    def __init__(self, host: str, config: Config, transport: rpc.Transport, store: ObjectStore):
        super().__init__(host, config, transport, store)
        d = config.DEFAULT
        self.servicegroup = ServiceGroupAPI(d.report_interval, d.service_down_time)
        self.host_manager = HostManager(store)
        self.filters = build_filters(config.scheduler.enabled_filters, self.servicegroup)
        self.rebuild_filters = [f for f in self.filters if f.RUN_ON_REBUILD]
        self.weighers = [RAMWeigher(config.scheduler.ram_weight_multiplier)]

    @rpc.expected_exceptions(exception.NoValidHost)
    async def select_destinations(
        self,
        ctxt: RequestContext,
        spec_obj: RequestSpec,
        instance_uuids: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """One ``{host, nodename, limits}`` per instance, or ``NoValidHost`` (all or nothing).

        A rebuild check only re-validates the instance's current host: it runs the
        RUN_ON_REBUILD filters and consumes nothing (the instance is already there).
        """
        await self.host_manager.refresh(ctxt)
        rebuild = request_is_rebuild(spec_obj)
        filters = self.rebuild_filters if rebuild else self.filters
        count = len(instance_uuids) if instance_uuids else spec_obj.num_instances
        chosen: list[HostState] = []
        selections = []
        for _ in range(count):
            host = self._choose(spec_obj, filters)
            if host is None:
                break
            if not rebuild:
                host.consume_from_request(spec_obj)
                chosen.append(host)
            selections.append(
                {"host": host.host, "nodename": host.nodename, "limits": dict(host.limits)}
            )
        if len(selections) < count:
            for host in chosen:  # give back what this request took
                _release(host, spec_obj)
            raise exception.NoValidHost(reason="There are not enough hosts available.")
        return selections

    def _choose(self, spec: RequestSpec, filters: list[BaseHostFilter]) -> HostState | None:
        hosts, run_filters = self.host_manager.candidates(spec)
        passing: list[HostState] = []
        subset = max(1, self.config.scheduler.host_subset_size)
        for host in ranked(hosts, spec, self.weighers):
            host.limits = {}
            if run_filters and not all(f.host_passes(host, spec) for f in filters):
                continue
            passing.append(host)
            if len(passing) >= subset:
                break
        return random.choice(passing) if passing else None


def _release(host: HostState, spec: RequestSpec) -> None:
    f = spec.flavor
    host.free_ram_mb += f.memory_mb
    host.free_disk_mb += 1024 * (f.root_gb + f.ephemeral_gb) + f.swap
    host.vcpus_used -= f.vcpus
    host.num_instances -= 1
