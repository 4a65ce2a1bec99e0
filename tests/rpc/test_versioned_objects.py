"""oslo.versionedobjects' ``VersionedObjectSerializer`` as a client's and a server's serializer.

Objects go out as their versioned primitives and come back as objects, nested
ones and lists of them included, on ``memory://`` and over RabbitMQ.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from oslo_versionedobjects import base, fields

from aionova import rpc


@base.VersionedObjectRegistry.register
class PortableFlavor(base.VersionedObject):
    VERSION = "1.2"
    fields = {"name": fields.StringField(), "vcpus": fields.IntegerField()}


@base.VersionedObjectRegistry.register
class PortableInstance(base.VersionedObject):
    VERSION = "2.0"
    fields = {
        "uuid": fields.UUIDField(),
        "flavor": fields.ObjectField("PortableFlavor"),
        "tags": fields.ListOfStringsField(default=[]),
    }


class Resizer:
    def __init__(self) -> None:
        self.received: list[Any] = []

    async def resize(self, ctxt: dict[str, Any], instance: Any, flavor: Any) -> Any:
        self.received.append((instance, flavor))
        instance.flavor = flavor
        return instance

    async def flavors(self, ctxt: dict[str, Any], names: list[str]) -> list[Any]:
        return [PortableFlavor(name=name, vcpus=i + 1) for i, name in enumerate(names)]


@pytest.fixture(params=["memory", pytest.param("rabbit", marks=pytest.mark.rabbit)])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex[:12]}"
    rabbit: str = request.getfixturevalue("rabbit_url")
    return rabbit


async def test_objects_round_trip_through_a_call(url: str, topic: str) -> None:
    serializer = base.VersionedObjectSerializer()
    endpoint = Resizer()
    async with (
        rpc.get_rpc_transport(url) as transport,
        rpc.get_rpc_server(
            transport, rpc.Target(topic=topic, server="s"), [endpoint], serializer=serializer
        ),
    ):
        client = rpc.get_rpc_client(
            transport, rpc.Target(topic=topic), serializer=serializer, timeout=10
        )
        small = PortableFlavor(name="m1.small", vcpus=1)
        big = PortableFlavor(name="m1.large", vcpus=8)
        instance = PortableInstance(uuid=str(uuid.uuid4()), flavor=small, tags=["a"])
        resized = await client.call({"user": "u"}, "resize", instance=instance, flavor=big)
        listed = await client.call({}, "flavors", names=["x", "y"])
    got_instance, got_flavor = endpoint.received[0]
    assert isinstance(got_instance, PortableInstance) and isinstance(got_flavor, PortableFlavor)
    assert isinstance(resized, PortableInstance) and resized is not instance
    assert (resized.uuid, resized.tags) == (instance.uuid, ["a"])
    assert isinstance(resized.flavor, PortableFlavor)
    assert (resized.flavor.name, resized.flavor.vcpus) == ("m1.large", 8)
    assert [type(f) for f in listed] == [PortableFlavor, PortableFlavor]
    assert [(f.name, f.vcpus) for f in listed] == [("x", 1), ("y", 2)]


async def test_without_the_serializer_objects_are_refused(bus_url: str, topic: str) -> None:
    """A versioned object is no wire primitive: the plain client says so before sending."""
    async with rpc.get_rpc_transport(bus_url) as transport:
        client = rpc.get_rpc_client(transport, rpc.Target(topic=topic), timeout=5)
        with pytest.raises(TypeError, match="cannot send resize"):
            await client.cast({}, "resize", flavor=PortableFlavor(name="m1", vcpus=1))
