"""ObjectStore: the one persistence seam, everything a service needs from shared state.

Two implementations, one contract:

* ``aionova.db.Database``: the database itself, in the API, conductor and scheduler;
* ``aionova.conductor.rpcapi.ConductorAPI``: on compute hosts, which hold no database;
  every method is an RPC call to the conductor, which runs it on its ``Database``.

The conductor's client and endpoint are generated from this class
(``aionova.conductor.passthrough``), so the three cannot drift apart;
tests/aionova/unit/test_store_seam.py checks names and parameters of all of them.
Objects a store returns are bound to it (``instance.save()`` goes back through it).

A method new to the conductor's RPC interface is marked ``@since("3.N")`` (the
conductor target version that added it); the client sends each call at its method's
version. Without a mark a method is in 3.0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from aionova.context import RequestContext
from aionova.objects.compute import ComputeNode, ComputeNodeStore, Service, ServiceStore
from aionova.objects.instance import (
    Flavor,
    ImageMeta,
    Instance,
    InstanceAction,
    InstanceFault,
    InstanceStore,
)
from aionova.objects.request_spec import Migration, MigrationStore, RequestSpec

Ctx = RequestContext | None
F = TypeVar("F", bound=Callable[..., Any])
SINCE = "_rpc_since"


def since(version: str) -> Callable[[F], F]:
    """The conductor RPC version that added a method."""

    def mark(func: F) -> F:
        setattr(func, SINCE, version)
        return func

    return mark


@runtime_checkable
class ObjectStore(InstanceStore, ServiceStore, ComputeNodeStore, MigrationStore, Protocol):
    """Reads and compare-and-swap writes of the control plane's shared state (with the
    parts each object's methods use: ``InstanceStore``, ``ServiceStore`` …)."""

    # -- instances --------------------------------------------------------------------
    @since("3.2")
    async def instance_create(
        self,
        ctxt: Ctx,
        instance: Instance,
        *,
        action: str | None = None,
        spec: RequestSpec | None = None,
    ) -> Instance:
        """Insert an instance; with ``action`` open the request's action and with ``spec``
        save the request spec, in the same transaction."""
        ...

    @since("3.2")
    async def instance_get_all(
        self, ctxt: Ctx, filters: dict[str, Any] | None = None
    ) -> list[Instance]:
        """Live instances matching equality filters on columns, oldest first."""
        ...

    async def instance_get_all_by_host(
        self, ctxt: Ctx, host: str, node: str | None = None
    ) -> list[Instance]:
        """Live instances on a host (and node)."""
        ...

    @since("3.2")
    async def instance_names_by_host(self, ctxt: Ctx) -> dict[str, list[tuple[str, str]]]:
        """host → [(uuid, display name)] of the live instances placed on a host."""
        ...

    @since("3.2")
    async def instance_states(self, ctxt: Ctx) -> dict[str, tuple[str, str | None]]:
        """uuid → (vm_state, task_state) of every live instance (one light read)."""
        ...

    @since("3.2")
    async def instance_usage_by_host(self, ctxt: Ctx) -> dict[str, tuple[int, int, int]]:
        """host → (memory MB, disk GB, vCPUs) its live instances use."""
        ...

    @since("3.1")
    async def instance_get_unclaimed_builds(
        self, ctxt: Ctx, host: str, nodes: Sequence[str] | None = None
    ) -> list[Instance]:
        """BUILDING instances last sent to ``host`` (one of ``nodes``) that no claim set."""
        ...

    @since("3.2")
    async def instance_get_stuck(
        self, ctxt: Ctx, older_than: dt.datetime, limit: int = 500
    ) -> list[tuple[Instance, str | None]]:
        """Instances building without a host, or in a task state the API sets before it
        casts (or deleting), unchanged since ``older_than``; with the host each build was
        last sent to (None: never sent to a compute)."""
        ...

    @since("3.2")
    async def instance_recover(
        self,
        ctxt: Ctx,
        uuid: str,
        updated_at: dt.datetime,
        updates: dict[str, Any],
        *,
        fault: InstanceFault | None = None,
        event: tuple[str, str | None] | None = None,
        destroy: bool = False,
    ) -> Instance | None:
        """Claim a stuck instance (compare-and-swap on ``updated_at``) and act on it in one
        transaction: ``updates``, a fault, an action event ``(name, host)``, the soft
        delete. None when the instance changed since it was read."""
        ...

    @since("3.3")
    async def instance_start_build(self, ctxt: Ctx, uuid: str, host: str) -> Instance:
        """A compute starts a build (task ``scheduling`` → None) only if the build still
        waits for a host and was last sent to ``host``: ``UnexpectedTaskStateError`` when
        it was started (or deleted …) already, ``InstanceUpdateConflict`` when it was sent
        elsewhere since. Exactly one compute starts each build, however often it arrives."""
        ...

    # -- allocations (what the scheduler claimed per instance and node) -------------------
    @since("3.3")
    async def allocation_claim(
        self,
        ctxt: Ctx,
        instance_uuid: str,
        node_id: int,
        resources: tuple[int, int, int],
        limits: dict[str, Any] | None = None,
    ) -> tuple[bool, tuple[int, int, int], tuple[str, str] | None]:
        """Atomically claim (memory MB, disk GB, vCPUs) on a node if it fits ``limits``
        (the scheduler's, as the compute's claim tests them): (claimed, what the node's
        other allocations use, None). A build's claim replaces the instance's others and
        records where the build goes; an evacuation's adds one. A build that holds an
        allocation already (placed by another delivery of its request) keeps it:
        (True, (0, 0, 0), its (host, node)). A request for an instance that no longer
        waits raises ``UnexpectedTaskStateError``."""
        ...

    @since("3.3")
    async def allocation_delete(
        self, ctxt: Ctx, instance_uuid: str, host: str | None = None
    ) -> None:
        """Drop an instance's allocations (only those on ``host``'s nodes, if given)."""
        ...

    @since("3.3")
    async def allocation_delete_orphans(self, ctxt: Ctx) -> int:
        """Drop allocations of deleted instances and of builds that failed without a host;
        how many."""
        ...

    @since("3.3")
    async def allocation_usage_by_node(self, ctxt: Ctx) -> dict[int, tuple[int, int, int]]:
        """Compute node id → (memory MB, disk GB, vCPUs) allocated on it."""
        ...

    # -- request specs and build selections --------------------------------------------
    @since("3.2")
    async def request_spec_save(self, ctxt: Ctx, spec: RequestSpec) -> None:
        """Create or replace the spec of an instance."""
        ...

    @since("3.2")
    async def request_spec_get(self, ctxt: Ctx, uuid: str) -> RequestSpec:
        """The spec of an instance (``NotFound`` otherwise)."""
        ...

    @since("3.2")
    async def build_selections_record(
        self, ctxt: Ctx, selections: Sequence[tuple[str, str, str]]
    ) -> None:
        """Note ``(instance_uuid, host, node)``: where each build is being sent."""
        ...

    # -- actions and faults ----------------------------------------------------------------
    @since("3.2")
    async def action_start(self, ctxt: RequestContext, uuid: str, action: str) -> None:
        """Open the action a request performs on an instance."""
        ...

    async def action_event_start(
        self, ctxt: RequestContext, uuid: str, event: str, host: str | None = None
    ) -> None:
        """Open an event of the request's action (nothing when it has none)."""
        ...

    @since("3.3")
    async def action_event_start_once(
        self, ctxt: RequestContext, uuid: str, event: str, host: str | None = None
    ) -> bool:
        """Open an event of the request's action unless it has one of that name already:
        False then (a duplicate delivery: the work is done or in progress). True (and
        nothing recorded) when the request has no action."""
        ...

    async def action_event_finish(
        self,
        ctxt: RequestContext,
        uuid: str,
        event: str,
        result: str,
        traceback: str | None = None,
    ) -> None:
        """Close an event ``Success`` or ``Error`` (an error marks the action too)."""
        ...

    @since("3.2")
    async def actions_get(self, ctxt: Ctx, uuid: str) -> list[InstanceAction]:
        """Every action of an instance with its events, oldest first."""
        ...

    @since("3.2")
    async def action_get_by_request_id(
        self, ctxt: Ctx, instance_uuid: str, request_id: str
    ) -> InstanceAction:
        """One action with its events (``NotFound`` otherwise)."""
        ...

    async def instance_fault_create(self, ctxt: Ctx, fault: InstanceFault) -> None:
        """Record a fault on an instance."""
        ...

    @since("3.2")
    async def instance_fault_get_latest(self, ctxt: Ctx, uuid: str) -> InstanceFault | None:
        """The newest fault of an instance, if any."""
        ...

    # -- services ----------------------------------------------------------------------------
    async def service_create(self, ctxt: Ctx, service: Service) -> Service:
        """Insert a service row."""
        ...

    @since("3.2")
    async def service_get(self, ctxt: Ctx, service_id: int | None) -> Service:
        """By id (``ServiceNotFound`` otherwise)."""
        ...

    @since("3.2")
    async def service_get_by_uuid(self, ctxt: Ctx, uuid: str) -> Service:
        """By UUID (``ServiceNotFound`` otherwise)."""
        ...

    async def service_get_by_host_and_binary(
        self, ctxt: Ctx, host: str, binary: str
    ) -> Service | None:
        """The live row of a service, or None."""
        ...

    @since("3.2")
    async def service_get_all(
        self, ctxt: Ctx, binary: str | None = None, since: str | None = None
    ) -> list[Service]:
        """Services (of one binary), optionally only those changed at or after ``since``."""
        ...

    async def service_get_minimum_version(self, ctxt: Ctx, binary: str) -> int:
        """Lowest version over live, not forced-down services of a binary (0 if none)."""
        ...

    # -- compute nodes -------------------------------------------------------------------------

    @since("3.2")
    async def compute_node_get(self, ctxt: Ctx, node_id: int | None) -> ComputeNode:
        """By id (``ComputeNodeNotFound`` otherwise)."""
        ...

    @since("3.2")
    async def compute_node_get_all(self, ctxt: Ctx, since: str | None = None) -> list[ComputeNode]:
        """Every node, or only those updated at or after ``since``."""
        ...

    async def compute_node_get_all_by_host(self, ctxt: Ctx, host: str) -> list[ComputeNode]:
        """The nodes of one host."""
        ...

    # -- flavors and images ----------------------------------------------------------------------
    @since("3.2")
    async def flavor_create(self, ctxt: Ctx, flavor: Flavor) -> Flavor:
        """Insert a flavor (``FlavorExists`` / ``FlavorIdExists`` when taken)."""
        ...

    @since("3.3")
    async def flavor_delete(self, ctxt: Ctx, flavorid: str) -> None:
        """Remove a flavor (instances keep their copy); ``FlavorNotFound`` otherwise."""
        ...

    @since("3.2")
    async def flavor_get_all(self, ctxt: Ctx) -> list[Flavor]:
        """Every flavor, smallest memory first."""
        ...

    @since("3.2")
    async def flavor_get_by_flavor_id(self, ctxt: Ctx, flavorid: str) -> Flavor:
        """By flavor id (``FlavorNotFound`` otherwise)."""
        ...

    @since("3.2")
    async def flavor_and_image_get(
        self, ctxt: Ctx, flavorid: str, image_id: str | None
    ) -> tuple[Flavor, ImageMeta | None]:
        """Both reads of a boot at once (``FlavorNotFound`` first, then ``ImageNotFound``)."""
        ...

    @since("3.2")
    async def image_create(self, ctxt: Ctx, image: ImageMeta) -> ImageMeta:
        """Insert an image."""
        ...

    @since("3.2")
    async def image_get_all(self, ctxt: Ctx) -> list[ImageMeta]:
        """Every image, by name."""
        ...

    @since("3.2")
    async def image_get(self, ctxt: Ctx, image_id: str) -> ImageMeta:
        """By id (``ImageNotFound`` otherwise)."""
        ...

    # -- migrations ----------------------------------------------------------------------------
    async def migration_create(self, ctxt: Ctx, migration: Migration) -> Migration:
        """Insert a migration record."""
        ...

    @since("3.2")
    async def migration_get(self, ctxt: Ctx, migration_id: int | None) -> Migration:
        """By id (``MigrationNotFound`` otherwise)."""
        ...

    async def migration_get_all(
        self, ctxt: Ctx, filters: dict[str, Any] | None = None
    ) -> list[Migration]:
        """Migrations matching filters (a list value means IN; ``host``: either end)."""
        ...

    @since("3.2")
    async def migration_get_by_instance_and_status(
        self, ctxt: Ctx, instance_uuid: str, status: str
    ) -> Migration:
        """The newest migration of an instance in a status (``MigrationNotFound``)."""
        ...


def store_methods() -> dict[str, Callable[..., Any]]:
    """The protocol's methods (its own and its parts') by name."""
    methods: dict[str, Callable[..., Any]] = {}
    for cls in reversed(ObjectStore.__mro__):
        if cls is object or cls is Protocol or not getattr(cls, "_is_protocol", False):
            continue
        methods.update(
            (name, value)
            for name, value in vars(cls).items()
            if not name.startswith("_") and callable(value)
        )
    return methods


def since_of(method: Callable[..., Any]) -> str:
    """The conductor RPC version that added ``method`` (3.0 unless marked)."""
    return str(getattr(method, SINCE, "3.0"))
