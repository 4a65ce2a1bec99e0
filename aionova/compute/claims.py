"""Claims: a build's resources tested against the scheduler's limits (Newton's model)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aionova import exception
from aionova.context import RequestContext
from aionova.objects import ComputeNode, Instance


class ClaimOwner(Protocol):
    """Who gives an aborted claim's resources back (the resource tracker)."""

    async def abort_instance_claim(
        self, ctxt: RequestContext, instance: Instance, nodename: str
    ) -> None: ...


def instance_usage(instance: Instance) -> tuple[int, int, int]:
    """(memory MB, disk GB, vCPUs) an instance consumes."""
    if instance.flavor is not None:
        f = instance.flavor
        return f.memory_mb, f.root_gb + f.ephemeral_gb, f.vcpus
    return instance.memory_mb, instance.root_gb + instance.ephemeral_gb, instance.vcpus


def _test(name: str, unit: str, used: float, requested: float, limit: float | None) -> str | None:
    """A reason string when ``requested`` exceeds ``limit - used``; no limit means no test."""
    if limit is None:
        return None
    free = limit - used
    if requested > free:
        return f"Free {name} {free:.2f} {unit} < requested {requested} {unit}"
    return None


def test_claim(node: ComputeNode, instance: Instance, limits: dict[str, Any] | None) -> None:
    """Raise ``ComputeResourcesUnavailable`` with every failing reason joined by '; '."""
    limits = limits or {}
    memory, disk, vcpus = instance_usage(instance)
    reasons = [
        r
        for r in (
            _test("memory", "MB", node.memory_mb_used, memory, limits.get("memory_mb")),
            _test("disk", "GB", node.local_gb_used, disk, limits.get("disk_gb")),
            _test("vcpu", "VCPU", node.vcpus_used, vcpus, limits.get("vcpu")),
        )
        if r
    ]
    if reasons:
        raise exception.ComputeResourcesUnavailable(reason="; ".join(reasons))


class Claim:
    """A successful claim. As an async context manager, an exception aborts it."""

    def __init__(
        self, ctxt: RequestContext, instance: Instance, nodename: str, tracker: ClaimOwner
    ) -> None:
        self.ctxt, self.instance, self.nodename, self.tracker = ctxt, instance, nodename, tracker

    async def abort(self) -> None:
        """Give the resources back and untag the instance."""
        await self.tracker.abort_instance_claim(self.ctxt, self.instance, self.nodename)

    async def __aenter__(self) -> Claim:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        # A cancellation is a crash or a shutdown: nothing more is saved (init_host recovers).
        if exc_type is not None and not issubclass(exc_type, asyncio.CancelledError):
            await self.abort()
