"""The compute API's guards: Nova's ``check_instance_state``, ``check_instance_lock`` and
``check_instance_host``, and the image-fits-flavor check."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Concatenate, ParamSpec, TypeVar

from aionova import exception
from aionova.context import RequestContext
from aionova.objects import Flavor, ImageMeta, Instance

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")
Guarded = Callable[Concatenate[S, RequestContext, Instance, P], Awaitable[R]]


def check_instance_state(
    vm_state: Sequence[str] | None = None,
    task_state: Sequence[str | None] | None = (None,),
    must_have_launched: bool = True,
) -> Callable[[Guarded[S, P, R]], Guarded[S, P, R]]:
    """Refuse an operation (``InstanceInvalidState``) unless the instance is in an allowed state.

    ``task_state=None`` disables the task check; the default allows only idle instances.
    """

    def outer(func: Guarded[S, P, R]) -> Guarded[S, P, R]:
        method = func.__name__.lstrip("_").removeprefix("soft_").removeprefix("hard_")

        async def inner(
            self: S, ctxt: RequestContext, instance: Instance, /, *a: P.args, **k: P.kwargs
        ) -> R:
            _check_state(instance, method, vm_state, task_state, must_have_launched)
            return await func(self, ctxt, instance, *a, **k)

        functools.update_wrapper(inner, func)
        return inner

    return outer


def _check_state(
    instance: Instance,
    method: str,
    vm_state: Sequence[str] | None,
    task_state: Sequence[str | None] | None,
    must_have_launched: bool,
) -> None:
    if vm_state is not None and instance.vm_state not in vm_state:
        raise exception.InstanceInvalidState(
            attr="vm_state", instance_uuid=instance.uuid, state=instance.vm_state, method=method
        )
    if task_state is not None and instance.task_state not in task_state:
        raise exception.InstanceInvalidState(
            attr="task_state", instance_uuid=instance.uuid, state=instance.task_state, method=method
        )
    if must_have_launched and instance.launched_at is None:
        raise exception.InstanceInvalidState(
            attr="launched_at", instance_uuid=instance.uuid, state=None, method=method
        )


def check_instance_lock(func: Guarded[S, P, R]) -> Guarded[S, P, R]:
    """``InstanceIsLocked`` when the instance is locked and the caller is not admin."""

    async def inner(
        self: S, ctxt: RequestContext, instance: Instance, /, *a: P.args, **k: P.kwargs
    ) -> R:
        if instance.locked and not ctxt.is_admin:
            raise exception.InstanceIsLocked(instance_uuid=instance.uuid)
        return await func(self, ctxt, instance, *a, **k)

    functools.update_wrapper(inner, func)
    return inner


def check_instance_host(func: Guarded[S, P, R]) -> Guarded[S, P, R]:
    """``InstanceNotReady`` when the instance has no host."""

    async def inner(
        self: S, ctxt: RequestContext, instance: Instance, /, *a: P.args, **k: P.kwargs
    ) -> R:
        if not instance.host:
            raise exception.InstanceNotReady(instance_id=instance.uuid)
        return await func(self, ctxt, instance, *a, **k)

    functools.update_wrapper(inner, func)
    return inner


def check_image_fits(flavor: Flavor, image: ImageMeta | None) -> None:
    """An active image whose minimum RAM and disk the flavor meets."""
    if image is None:
        return
    if image.status != "active":
        raise exception.ImageNotFound(image_id=image.id)
    if flavor.memory_mb < image.min_ram:
        raise exception.FlavorMemoryTooSmall()
    if flavor.root_gb and flavor.root_gb < image.min_disk:
        raise exception.FlavorDiskTooSmall()


def parse_availability_zone(az: str | None) -> tuple[str | None, str | None, str | None]:
    """``"az:host[:node]"`` forces a host (and node): (zone, host, node)."""
    if not az or ":" not in az:
        return az, None, None
    zone, _, rest = az.partition(":")
    host, _, node = rest.partition(":")
    return zone or None, host or None, node or None


__all__ = [
    "check_image_fits",
    "check_instance_host",
    "check_instance_lock",
    "check_instance_state",
    "parse_availability_zone",
]
