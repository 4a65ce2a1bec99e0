"""SchedulerManager: select_destinations over filters and weighers."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
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

LOG = logging.getLogger(__name__)


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

    @rpc.expected_exceptions(exception.NoValidHost, exception.UnexpectedTaskStateError)
    async def select_destinations(
        self,
        ctxt: RequestContext,
        spec_obj: RequestSpec,
        instance_uuids: list[str] | None = None,
    ) -> list[dict[str, Any] | None]:
        """One ``{host, nodename, limits}`` per instance, or ``NoValidHost`` (all or nothing).

        Each chosen host is claimed in the database (allocations.py) before it is
        returned, walking the weighed hosts until a claim holds: schedulers that race
        for the same hosts never overcommit one. An instance that no longer waits for
        a host (the request was delivered twice and the other delivery got there
        first) gets ``None`` and keeps what the other delivery gave it; when no
        instance of the request waits any more, ``UnexpectedTaskStateError``.
        A rebuild check only re-validates the instance's current host: it runs the
        RUN_ON_REBUILD filters and claims nothing (the instance is already there).
        """
        await self.host_manager.refresh(ctxt)
        uuids: list[str | None] = (
            [*instance_uuids] if instance_uuids else [None] * spec_obj.num_instances
        )
        claimed: list[tuple[str, HostState]] = []
        try:
            selections = await self._select_each(ctxt, spec_obj, uuids, claimed)
        except BaseException:
            await self._release(ctxt, spec_obj, claimed)
            raise
        if len(selections) < len(uuids):
            await self._release(ctxt, spec_obj, claimed)
            raise exception.NoValidHost(reason="There are not enough hosts available.")
        return selections

    async def _select_each(
        self,
        ctxt: RequestContext,
        spec: RequestSpec,
        uuids: list[str | None],
        claimed: list[tuple[str, HostState]],
    ) -> list[dict[str, Any] | None]:
        """A selection per instance until one finds no host (fewer selections than
        instances); what is claimed is appended to ``claimed``."""
        rebuild = request_is_rebuild(spec)
        filters = self.rebuild_filters if rebuild else self.filters
        selections: list[dict[str, Any] | None] = []
        moved_on: exception.UnexpectedTaskStateError | None = None
        for uuid in uuids:
            try:
                placed = await self._place(ctxt, spec, filters, uuid, claim=not rebuild)
            except exception.UnexpectedTaskStateError as exc:
                # Neither claimed again nor given back: the claim that moved it on holds.
                moved_on = exc
                selections.append(None)
                continue
            if placed is None:
                return selections
            selection, host, made = placed
            if host is not None:
                host.consume_from_request(spec)
                if made and uuid is not None:
                    claimed.append((uuid, host))
            selections.append(selection)
        if moved_on is not None and not any(selections):
            raise moved_on
        return selections

    async def _place(
        self,
        ctxt: RequestContext,
        spec: RequestSpec,
        filters: list[BaseHostFilter],
        uuid: str | None,
        *,
        claim: bool,
    ) -> tuple[dict[str, Any], HostState | None, bool] | None:
        """The selection of the best host that passes the filters and whose claim holds,
        the host state to charge (None: nothing to charge here) and whether this request
        made the claim; or the placement another delivery of the request made (it
        stands: charged and given back by that delivery alone)."""
        for host, limits in self._passing(spec, filters):
            selection = {"host": host.host, "nodename": host.nodename, "limits": limits}
            if not claim:
                return selection, None, False
            if uuid is None or host.node_id is None:
                return selection, host, False
            f = spec.flavor
            wanted = (f.memory_mb, f.root_gb + f.ephemeral_gb, f.vcpus)
            ok, used, held = await self.store.allocation_claim(
                ctxt, uuid, host.node_id, wanted, limits
            )
            if held is not None:
                LOG.info("%s was placed on %s by another delivery of its request", uuid, held[0])
                return {"host": held[0], "nodename": held[1], "limits": None}, None, False
            if ok:
                return selection, host, True
            host.use_allocations(used)  # another scheduler got there first
        return None

    def _passing(
        self, spec: RequestSpec, filters: list[BaseHostFilter]
    ) -> Iterator[tuple[HostState, dict[str, float]]]:
        """Hosts that pass the filters, best first, each with the limits the filters set
        (copied: other requests filter the same host while a claim is awaited); the first
        ``host_subset_size`` of them in random order (Nova's spreading of equal choices)."""
        hosts, run_filters = self.host_manager.candidates(spec)
        subset = max(1, self.config.scheduler.host_subset_size)
        head: list[tuple[HostState, dict[str, float]]] = []
        for host in ranked(hosts, spec, self.weighers):
            host.limits = {}
            if run_filters and not all(f.host_passes(host, spec) for f in filters):
                continue
            if len(head) < subset:
                head.append((host, dict(host.limits)))
                if len(head) == subset:
                    random.shuffle(head)
                    yield from head
                continue
            yield host, dict(host.limits)
        if len(head) < subset:
            random.shuffle(head)
            yield from head

    async def _release(
        self, ctxt: RequestContext, spec: RequestSpec, claimed: list[tuple[str, HostState]]
    ) -> None:
        """Give back what this request claimed (all or nothing)."""
        for uuid, host in claimed:
            _release(host, spec)
            await self.store.allocation_delete(ctxt, uuid, host.host)


def _release(host: HostState, spec: RequestSpec) -> None:
    f = spec.flavor
    host.free_ram_mb += f.memory_mb
    host.free_disk_mb += 1024 * (f.root_gb + f.ephemeral_gb) + f.swap
    host.vcpus_used -= f.vcpus
    host.num_instances -= 1
