"""The compute API's state guard (Nova's ``check_instance_state``)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from aionova import exception
from aionova.context import RequestContext
from aionova.objects import Instance

P = ParamSpec("P")
R = TypeVar("R")


def check_instance_state(
    vm_state: Sequence[str] | None = None,
    task_state: Sequence[str | None] | object = (None,),
    must_have_launched: bool = True,
) -> Callable[
    [Callable[Concatenate[Any, RequestContext, Instance, P], Awaitable[R]]],
    Callable[Concatenate[Any, RequestContext, Instance, P], Awaitable[R]],
]:
    """Refuse an operation (``InstanceInvalidState``) unless the instance is in an allowed state.

    ``task_state=None`` disables the task check; the default allows only idle instances.
    """

    def outer(func: Any) -> Any:
        @functools.wraps(func)
        async def inner(self: Any, ctxt: RequestContext, instance: Instance, *a: Any, **k: Any):
            method = func.__name__.lstrip("_").removeprefix("soft_").removeprefix("hard_")
            if vm_state is not None and instance.vm_state not in vm_state:
                raise exception.InstanceInvalidState(
                    attr="vm_state",
                    instance_uuid=instance.uuid,
                    state=instance.vm_state,
                    method=method,
                )
            if task_state is not None and instance.task_state not in task_state:  # type: ignore[operator]
                raise exception.InstanceInvalidState(
                    attr="task_state",
                    instance_uuid=instance.uuid,
                    state=instance.task_state,
                    method=method,
                )
            if must_have_launched and instance.launched_at is None:
                raise exception.InstanceInvalidState(
                    attr="launched_at", instance_uuid=instance.uuid, state=None, method=method
                )
            return await func(self, ctxt, instance, *a, **k)

        return inner

    return outer
