"""What a request asks of the scheduler: the new instances and request spec of a boot, the
spec of a rebuild with a new image and of an evacuation."""

from __future__ import annotations

import uuid as uuidlib

from aionova import exception
from aionova.api.compute.checks import parse_availability_zone
from aionova.context import RequestContext
from aionova.objects import Destination, Flavor, ImageMeta, Instance, Migration, RequestSpec
from aionova.objects.store import ObjectStore
from aionova.states import power_state, task_states, vm_states


def boot_request(
    ctxt: RequestContext,
    flavor: Flavor,
    image: ImageMeta | None,
    count: int,
    availability_zone: str | None,
    requested_host: str | None,
) -> RequestSpec:
    """The request spec of a boot of ``count`` instances (its instance_uuid set later)."""
    zone, host, node = parse_availability_zone(availability_zone)
    return RequestSpec(
        instance_uuid="",
        project_id=ctxt.project_id,
        flavor=flavor,
        image=image,
        num_instances=count,
        availability_zone=zone,
        force_hosts=[host] if host else None,
        force_nodes=[node] if node else None,
        requested_destination=Destination(host=requested_host) if requested_host else None,
    )


def new_instances(
    ctxt: RequestContext,
    spec: RequestSpec,
    image_ref: str | None,
    name: str,
    metadata: dict[str, str] | None,
) -> list[Instance]:
    """``spec.num_instances`` new instances (BUILDING / scheduling) of one reservation;
    several are named ``name-1``, ``name-2`` …"""
    count = spec.num_instances
    if count < 1:
        raise exception.InvalidRequest(reason="min_count must be at least 1")
    flavor = spec.flavor
    reservation_id = f"r-{uuidlib.uuid4().hex[:8]}"
    return [
        Instance(
            uuid=str(uuidlib.uuid4()),
            display_name=name if count == 1 else f"{name}-{index + 1}",
            project_id=ctxt.project_id,
            user_id=ctxt.user_id,
            image_ref=image_ref,
            flavor=flavor,
            memory_mb=flavor.memory_mb,
            vcpus=flavor.vcpus,
            root_gb=flavor.root_gb,
            ephemeral_gb=flavor.ephemeral_gb,
            vm_state=vm_states.BUILDING,
            task_state=task_states.SCHEDULING,
            power_state=power_state.NOSTATE,
            availability_zone=spec.availability_zone,
            reservation_id=reservation_id,
            metadata=dict(metadata or {}),
        )
        for index in range(count)
    ]


def evacuation(instance: Instance, host: str | None) -> Migration:
    """The migration record of an evacuation the API accepts (``host``: requested)."""
    return Migration(
        uuid=str(uuidlib.uuid4()),
        instance_uuid=instance.uuid,
        source_compute=instance.host,
        source_node=instance.node,
        dest_compute=host,
        status="accepted",
        migration_type="evacuation",
    )


async def request_spec_of(
    store: ObjectStore, ctxt: RequestContext, instance: Instance
) -> RequestSpec:
    """The instance's saved spec, or one made from its flavor (instances from before specs)."""
    try:
        return await store.request_spec_get(ctxt, instance.uuid)
    except exception.NotFound:
        assert instance.flavor is not None
        return RequestSpec(instance_uuid=instance.uuid, flavor=instance.flavor)


async def rebuild_check_request(
    store: ObjectStore, ctxt: RequestContext, instance: Instance, image: ImageMeta
) -> RequestSpec:
    """A rebuild with a new image: the scheduler re-validates the *same* host for it (only
    RUN_ON_REBUILD filters, nothing claimed). The new image is saved with the spec; the
    rebuild hint and the forced host are not."""
    spec = await request_spec_of(store, ctxt, instance)
    spec.image = image
    await store.request_spec_save(ctxt, spec)
    spec.scheduler_hints = {**spec.scheduler_hints, "_nova_check_type": ["rebuild"]}
    spec.force_hosts = [instance.host] if instance.host else None
    spec.force_nodes = [instance.node] if instance.node else None
    return spec
