"""HostAPI: services, compute nodes (hypervisors) and migrations, for the REST layer."""

from __future__ import annotations

from typing import Any

from aionova import exception
from aionova.config import Config
from aionova.context import RequestContext
from aionova.objects import ComputeNode, Migration, Service
from aionova.objects.store import ObjectStore
from aionova.servicegroup import ServiceGroupAPI

COMPUTE_BINARY = "nova-compute"


class HostAPI:
    """Reads and admin updates of services; liveness as the servicegroup sees it."""

    def __init__(self, db: ObjectStore, config: Config) -> None:
        self.db = db
        d = config.DEFAULT
        self.servicegroup = ServiceGroupAPI(d.report_interval, d.service_down_time)

    def service_is_up(self, service: Service) -> bool:
        """``state`` up/down (forced_down counts as down)."""
        return self.servicegroup.service_is_up(service)

    async def service_get_all(
        self, ctxt: RequestContext, filters: dict[str, Any] | None = None
    ) -> list[Service]:
        """Every live service; filters ``binary`` and ``host`` (equality)."""
        filters = filters or {}
        services = await self.db.service_get_all(ctxt, binary=filters.get("binary"))
        if filters.get("host") is not None:
            services = [s for s in services if s.host == filters["host"]]
        return services

    async def service_get_by_id(self, ctxt: RequestContext, service_id: int) -> Service:
        """``ServiceNotFound`` if absent."""
        return await self.db.service_get(ctxt, service_id)

    async def service_get_by_uuid(self, ctxt: RequestContext, uuid: str) -> Service:
        """``ServiceNotFound`` if absent."""
        return await self.db.service_get_by_uuid(ctxt, uuid)

    async def service_get_by_host_and_binary(
        self, ctxt: RequestContext, host: str, binary: str
    ) -> Service:
        """``ComputeHostNotFound`` (compute) / ``ServiceNotFound`` if absent."""
        service = await self.db.service_get_by_host_and_binary(ctxt, host, binary)
        if service is None:
            if binary == COMPUTE_BINARY:
                raise exception.ComputeHostNotFound(host=host)
            raise exception.ServiceNotFound(service_id=f"{host}/{binary}")
        return service

    async def service_update(
        self,
        ctxt: RequestContext,
        service: Service,
        *,
        forced_down: bool | None = None,
        disabled: bool | None = None,
        disabled_reason: str | None = None,
    ) -> Service:
        """Admin update. Un-forcing a compute with ``done`` evacuations is refused."""
        if forced_down is not None:
            if service.binary != COMPUTE_BINARY:
                raise exception.InvalidRequest(
                    reason=f"Updating a {service.binary} service is not supported."
                )
            if not forced_down and service.forced_down:
                done = await self.db.migration_get_all(
                    ctxt,
                    {
                        "source_compute": service.host,
                        "status": "done",
                        "migration_type": "evacuation",
                    },
                )
                if done:
                    raise exception.ServiceForceUpRefused(host=service.host)
            service.forced_down = forced_down
        if disabled is not None:
            service.disabled = disabled
            service.disabled_reason = disabled_reason if disabled else None
        elif disabled_reason is not None:
            service.disabled_reason = disabled_reason
        await service.save()
        return service

    async def compute_node_get_all(self, ctxt: RequestContext) -> list[ComputeNode]:
        """Every hypervisor."""
        return await self.db.compute_node_get_all(ctxt)

    async def compute_node_get(self, ctxt: RequestContext, node_id: int) -> ComputeNode:
        """``ComputeNodeNotFound`` if absent."""
        return await self.db.compute_node_get(ctxt, node_id)

    async def migration_get_all(
        self, ctxt: RequestContext, filters: dict[str, Any] | None = None
    ) -> list[Migration]:
        """Filters: instance_uuid, source_compute, dest_compute, host, status, migration_type."""
        return await self.db.migration_get_all(ctxt, filters)
