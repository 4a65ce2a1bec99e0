"""One persistence seam: ObjectStore, the Database, and the conductor's client and endpoint
agree method by method (names, parameters, defaults), and calls go through unchanged."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aionova.conductor.manager import ConductorManager
from aionova.conductor.rpcapi import ConductorAPI
from aionova.db import Database
from aionova.objects import Flavor, Instance, ObjectStore
from aionova.objects.store import since_of, store_methods
from tests.aionova.conftest import fast_config

LIFECYCLE = {"open", "close"}


def _shape(func: Callable[..., Any]) -> list[tuple[str, object, object, object]]:
    """What must agree: each parameter's name, kind, default and annotation."""
    return [
        (p.name, p.kind, p.default, p.annotation)
        for p in inspect.signature(func).parameters.values()
    ]


def disagreements(cls: type) -> dict[str, str]:
    """Protocol methods ``cls`` lacks, or has with other parameters."""
    found = {}
    for name, proto in store_methods().items():
        impl = getattr(cls, name, None)
        if impl is None:
            found[name] = "missing"
        elif not inspect.iscoroutinefunction(impl):
            found[name] = "not a coroutine function"
        elif _shape(impl) != _shape(proto):
            found[name] = f"{inspect.signature(impl)} != {inspect.signature(proto)}"
    return found


@pytest.mark.parametrize("cls", [Database, ConductorAPI, ConductorManager])
def test_every_side_has_the_protocols_methods(cls: type) -> None:
    assert disagreements(cls) == {}


def test_the_check_sees_drift() -> None:
    """A side with a renamed parameter, a lost default or a missing method is caught."""

    class Drifted(Database):
        async def instance_get(self, ctxt: Any, instance_uuid: str) -> Instance:  # type: ignore[override]
            raise AssertionError

        async def service_get_all(self, ctxt: Any, binary: Any, since: Any = None) -> Any:  # type: ignore[override]
            raise AssertionError

    Drifted.instance_destroy = None  # type: ignore[assignment,method-assign]
    assert set(disagreements(Drifted)) == {"instance_get", "service_get_all", "instance_destroy"}


def test_the_database_offers_nothing_outside_the_protocol() -> None:
    """Every public query of the Database is in the protocol (so computes can reach it)."""
    public = {
        name
        for name, value in vars(Database).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(value)
    }
    assert public - LIFECYCLE == set(store_methods())


def test_conductor_versions() -> None:
    """A method's version is the conductor's that added it; the endpoint serves them all."""
    methods = store_methods()
    assert since_of(methods["instance_update"]) == "3.0"
    assert since_of(methods["instance_get_unclaimed_builds"]) == "3.1"
    assert since_of(methods["allocation_claim"]) == "3.3"
    assert {since_of(m) for m in methods.values()} <= {"3.0", "3.1", "3.2", "3.3"}
    assert ConductorManager.target.version == "3.3"


async def test_calls_go_through_the_conductor_unchanged(tmp_path: Path, db_url: str) -> None:
    """The generated client and endpoint on a real conductor: results equal the
    database's, exceptions arrive rebuilt, objects come back bound to the client."""
    from aionova import exception
    from aionova.messaging import get_transport
    from aionova.service import Service

    config = fast_config()
    async with Database(db_url) as db:
        transport = get_transport(f"memory://seam-{tmp_path.name}")
        conductor = Service(
            "nova-conductor", "conductor", "c1", ConductorManager("c1", config, transport, db)
        )
        await conductor.start()
        try:
            store = ConductorAPI(transport, config)
            assert isinstance(store, ObjectStore) and isinstance(db, ObjectStore)
            flavor = Flavor(flavorid="1", name="tiny", memory_mb=512, vcpus=1, root_gb=1)
            await store.flavor_create(None, flavor)  # type: ignore[attr-defined]
            assert await store.flavor_get_all(None) == await db.flavor_get_all(None)  # type: ignore[attr-defined]
            created = await store.instance_create(None, Instance(uuid="u1", flavor=flavor))  # type: ignore[attr-defined]
            assert created.store is store
            created.display_name = "renamed"
            await created.save()
            assert (await db.instance_get(None, "u1")).display_name == "renamed"
            with pytest.raises(exception.InstanceNotFound):
                await store.instance_get(None, "missing", read_deleted=True)  # type: ignore[attr-defined]
            with pytest.raises(TypeError):
                await store.instance_get(None, "u1", False)  # type: ignore[attr-defined]
        finally:
            await conductor.stop()
            await transport.close()


def test_no_store_is_typed_any() -> None:
    """The protocol replaced every ``store: Any``."""
    root = Path(__file__).resolve().parents[3] / "aionova"
    offenders = [
        str(path)
        for path in root.rglob("*.py")
        if "store: Any" in path.read_text() or "db: Any" in path.read_text()
    ]
    assert offenders == []


def test_objects_are_bound_to_their_part_of_the_store() -> None:
    """Each object kind's store is a part of ObjectStore (InstanceStore …)."""
    from aionova.objects.instance import InstanceStore

    assert InstanceStore in ObjectStore.__mro__
    assert set(vars(InstanceStore)) & set(store_methods()) == {
        "instance_get",
        "instance_update",
        "instance_destroy",
    }
