"""Clients of the conductor: ConductorAPI (the ObjectStore of computes) and ComputeTaskAPI."""

from __future__ import annotations

from typing import Any, cast

from aionova import rpc
from aionova.conductor.passthrough import client_methods
from aionova.config import Config
from aionova.context import RequestContext
from aionova.messaging import get_client
from aionova.objects import Instance, RequestSpec
from aionova.objects.store import Ctx, ObjectStore

TOPIC = "conductor"


class ConductorAPI:
    """The object store of hosts without a database: every read and save is an RPC call.

    Its methods are generated from ``ObjectStore`` (conductor/passthrough.py), one per
    protocol method with the same parameters, each sent at the conductor version that
    added it. Objects it returns are bound to it, so ``instance.save()`` on a compute
    goes back through the conductor. Build one with ``conductor_store()``.
    """

    def __init__(self, transport: rpc.Transport, config: Config) -> None:
        target = rpc.Target(topic=TOPIC, version="3.0")
        timeout = config.DEFAULT.rpc_response_timeout
        store = cast(ObjectStore, self)  # the methods are set on the class below
        self.client = get_client(transport, target, store=store, timeout=timeout)
        self._prepared: dict[str, rpc.RPCClient] = {}

    async def _call(self, ctxt: Ctx, method: str, version: str, kwargs: dict[str, Any]) -> Any:
        client = self._prepared.get(version)
        if client is None:
            client = self._prepared[version] = self.client.prepare(version=version)
        return await client.call(ctxt, method, **kwargs)


for _name, _method in client_methods().items():
    _method.__qualname__ = f"ConductorAPI.{_name}"
    setattr(ConductorAPI, _name, _method)


def conductor_store(transport: rpc.Transport, config: Config) -> ObjectStore:
    """A ``ConductorAPI`` as what it is: an ``ObjectStore`` (its methods are generated,
    so a type checker sees them only through the protocol)."""
    return cast(ObjectStore, ConductorAPI(transport, config))


class ComputeTaskAPI:
    """Client of the ``compute_task`` namespace (version 1.x)."""

    def __init__(self, transport: rpc.Transport, config: Config) -> None:
        target = rpc.Target(topic=TOPIC, namespace="compute_task", version="1.0")
        self.client = get_client(transport, target)

    async def build_instances(
        self,
        ctxt: RequestContext,
        instances: list[Instance],
        image: Any,
        filter_properties: dict[str, Any],
        admin_password: str | None = None,
        injected_files: list[Any] | None = None,
        requested_networks: Any = None,
        security_groups: list[str] | None = None,
        block_device_mapping: list[Any] | None = None,
        legacy_bdm: bool = True,
        request_spec: RequestSpec | None = None,
    ) -> None:
        """Cast: schedule and build (also used by computes to reschedule)."""
        kwargs: dict[str, Any] = dict(
            instances=instances,
            image=image,
            filter_properties=filter_properties,
            admin_password=admin_password,
            injected_files=injected_files or [],
            requested_networks=requested_networks,
            security_groups=security_groups or [],
            block_device_mapping=block_device_mapping or [],
            legacy_bdm=legacy_bdm,
        )
        version = "1.10"
        if request_spec is not None and self.client.can_send_version("1.10"):
            kwargs["request_spec"] = request_spec
        else:
            version = "1.5"
        await self.client.prepare(version=version).cast(ctxt, "build_instances", **kwargs)

    async def rebuild_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        new_pass: str | None,
        injected_files: list[Any] | None,
        image_ref: str | None,
        orig_image_ref: str | None,
        orig_sys_metadata: dict[str, Any] | None,
        bdms: list[Any] | None,
        recreate: bool = False,
        on_shared_storage: bool | None = None,
        preserve_ephemeral: bool = False,
        host: str | None = None,
        request_spec: RequestSpec | None = None,
    ) -> None:
        """Cast (1.12 with request_spec, else 1.8): rebuild on ``host`` or evacuate."""
        kwargs: dict[str, Any] = dict(
            instance=instance,
            new_pass=new_pass,
            injected_files=injected_files,
            image_ref=image_ref,
            orig_image_ref=orig_image_ref,
            orig_sys_metadata=orig_sys_metadata,
            bdms=bdms,
            recreate=recreate,
            on_shared_storage=on_shared_storage,
            preserve_ephemeral=preserve_ephemeral,
            host=host,
        )
        version = "1.12"
        if self.client.can_send_version(version):
            kwargs["request_spec"] = request_spec
        else:
            version = "1.8"
        await self.client.prepare(version=version).cast(ctxt, "rebuild_instance", **kwargs)
