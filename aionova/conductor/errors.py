"""How the conductor fails an instance it could not place."""

from __future__ import annotations

import traceback

from aionova import exception
from aionova.context import RequestContext
from aionova.objects import Instance, InstanceFault
from aionova.objects.store import ObjectStore
from aionova.states import vm_states


async def error_out(
    db: ObjectStore,
    host: str,
    ctxt: RequestContext,
    instance: Instance,
    exc: Exception,
    *,
    expected_task: list[str | None] | None = None,
) -> str | None:
    """ERROR with task None and a fault; the traceback, or None if the instance is gone
    (or, with ``expected_task``, no longer in that task: someone else handled it)."""
    instance.vm_state, instance.task_state = vm_states.ERROR, None
    try:
        await instance.save(expected_task_state=expected_task)
    except (exception.InstanceNotFound, exception.InstanceUpdateConflict):
        return None
    code = getattr(exc, "kwargs", {}).get("code", 500)
    tb = "".join(traceback.format_exception(exc))
    fault = InstanceFault(
        instance_uuid=instance.uuid, code=code, message=str(exc), details=tb, host=host
    )
    await db.instance_fault_create(ctxt, fault)
    return tb
