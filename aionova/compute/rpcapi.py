"""ComputeAPI: the typed client of nova-compute, with version negotiation.

Each method picks the newest version the cap allows and drops arguments an
older peer would not understand. The cap is ``[upgrade_levels]compute``: unset
(no cap), a release alias or "N.N", or "auto" (the lowest compute RPC version
among registered, not forced-down compute services; cached once known).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aionova import exception, rpc
from aionova.config import Config
from aionova.context import RequestContext
from aionova.messaging import get_client
from aionova.objects import Instance, Migration, ObjectStore, RequestSpec
from aionova.versions import COMPUTE_RPC_VERSION, SERVICE_VERSION_HISTORY

TOPIC = "compute"
BINARY = "nova-compute"
VERSION_ALIASES = {"kilo": "4.0", "liberty": "4.5", "mitaka": "4.11", "newton": "4.13"}


class ComputeAPI:
    """Client side of the compute RPC API (4.x)."""

    def __init__(self, transport: rpc.Transport, store: ObjectStore, config: Config) -> None:
        self.transport, self.store, self.config = transport, store, config
        self._client: rpc.RPCClient | None = None
        self._lock = asyncio.Lock()

    def reset(self) -> None:
        """Forget the cached cap (Nova does this on SIGHUP)."""
        self._client = None

    async def determine_version_cap(self, ctxt: RequestContext | None) -> tuple[str | None, bool]:
        """(cap, cacheable) from the configuration and, for "auto", the service versions."""
        level = self.config.upgrade_levels.compute
        if level is None:
            return None, True
        if level != "auto":
            return VERSION_ALIASES.get(level, level), True
        minimum = await self.store.service_get_minimum_version(ctxt, BINARY)
        if minimum == 0:
            return COMPUTE_RPC_VERSION, False
        if minimum >= len(SERVICE_VERSION_HISTORY):
            return COMPUTE_RPC_VERSION, True
        return SERVICE_VERSION_HISTORY[minimum]["compute_rpc"], True

    async def client(self, ctxt: RequestContext | None) -> rpc.RPCClient:
        """The RPC client with its version cap (built once the cap is known)."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is not None:
                return self._client
            cap, cacheable = await self.determine_version_cap(ctxt)
            client = get_client(
                self.transport,
                rpc.Target(topic=TOPIC, version="4.0"),
                store=self.store,
                version_cap=cap,
                timeout=self.config.DEFAULT.rpc_response_timeout,
            )
            if cacheable:
                self._client = client
            return client

    @staticmethod
    def _host(host: str | None, instance: Instance | None) -> str:
        host = host or (instance.host if instance is not None else None)
        if not host:
            raise exception.NovaException("No compute host specified")
        return host

    async def build_and_run_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        host: str,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        admin_password: str | None = None,
        injected_files: list[Any] | None = None,
        requested_networks: Any = None,
        security_groups: list[str] | None = None,
        block_device_mapping: list[Any] | None = None,
        node: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> None:
        """Cast (4.0): the build runs on the compute, which returns at once."""
        client = await self.client(ctxt)
        cctxt = client.prepare(server=self._host(host, instance), version="4.0")
        await cctxt.cast(
            ctxt,
            "build_and_run_instance",
            instance=instance,
            image=image,
            request_spec=request_spec,
            filter_properties=filter_properties,
            admin_password=admin_password,
            injected_files=injected_files,
            requested_networks=requested_networks,
            security_groups=security_groups,
            block_device_mapping=block_device_mapping,
            node=node,
            limits=limits,
        )

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
        host: str | None = None,
        preserve_ephemeral: bool = False,
        migration: Migration | None = None,
        node: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> None:
        """Cast 4.5 with migration/scheduled_node/limits, or 4.0 without them (older peers)."""
        client = await self.client(ctxt)
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
        )
        version = "4.5"
        if client.can_send_version(version):
            kwargs.update(migration=migration, scheduled_node=node, limits=limits)
        else:
            version = "4.0"
        cctxt = client.prepare(server=self._host(host, instance), version=version)
        await cctxt.cast(ctxt, "rebuild_instance", **kwargs)

    async def _cast_to_instance(
        self, ctxt: RequestContext, instance: Instance, method: str, **kwargs: Any
    ) -> None:
        """Cast a 4.0 method to the compute that owns the instance."""
        client = await self.client(ctxt)
        cctxt = client.prepare(server=self._host(None, instance), version="4.0")
        await cctxt.cast(ctxt, method, instance=instance, **kwargs)

    async def reboot_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        block_device_info: Any,
        reboot_type: str,
    ) -> None:
        """Cast (4.0): 'SOFT' or 'HARD'."""
        await self._cast_to_instance(
            ctxt,
            instance,
            "reboot_instance",
            block_device_info=block_device_info,
            reboot_type=reboot_type,
        )

    async def stop_instance(
        self, ctxt: RequestContext, instance: Instance, clean_shutdown: bool = True
    ) -> None:
        """Cast (4.0): power the guest off."""
        await self._cast_to_instance(ctxt, instance, "stop_instance", clean_shutdown=clean_shutdown)

    async def start_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        """Cast (4.0): power the guest on."""
        await self._cast_to_instance(ctxt, instance, "start_instance")

    async def terminate_instance(
        self, ctxt: RequestContext, instance: Instance, bdms: list[Any] | None = None
    ) -> None:
        """Cast (4.0): destroy the guest and delete the instance."""
        await self._cast_to_instance(ctxt, instance, "terminate_instance", bdms=bdms or [])
