"""Stop, start and terminate on the compute (spec §1.3.6-1.3.7)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from aionova import exception
from aionova.compute.host import Part
from aionova.compute.wrappers import (
    DELETED,
    reverts_task_state,
    wrap_exception,
    wrap_instance_event,
    wrap_instance_fault,
)
from aionova.context import RequestContext
from aionova.objects import Instance
from aionova.states import power_state, task_states, vm_states

LOG = logging.getLogger(__name__)
_OFF = (power_state.NOSTATE, power_state.SHUTDOWN, power_state.CRASHED)
SHUTDOWN_TIMEOUT = 60.0


class Power(Part):
    """``stop_instance`` and ``terminate_instance`` take the per-instance lock; start does not."""

    @wrap_exception
    @reverts_task_state
    @wrap_instance_event(prefix="compute")
    @wrap_instance_fault
    async def stop_instance(
        self, ctxt: RequestContext, instance: Instance, clean_shutdown: bool = True
    ) -> None:
        """POWERING_OFF -> STOPPED; a guest already off also accepts task None."""
        async with self.parts.locks(instance.uuid):
            expected: list[str | None] = [task_states.POWERING_OFF]
            if self.parts.power_state(instance) in _OFF:
                expected.append(None)
            self.notifier.instance(ctxt, instance, "power_off", "start")
            await self.driver.power_off(instance, SHUTDOWN_TIMEOUT if clean_shutdown else 0)
            instance.power_state = self.parts.power_state(instance)
            instance.vm_state, instance.task_state = vm_states.STOPPED, None
            await instance.save(expected_task_state=expected)
            self.notifier.instance(ctxt, instance, "power_off", "end")

    @wrap_exception
    @reverts_task_state
    @wrap_instance_event(prefix="compute")
    @wrap_instance_fault
    async def start_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        """POWERING_ON -> ACTIVE (no per-instance lock, as in Nova)."""
        self.notifier.instance(ctxt, instance, "power_on", "start")
        await self.driver.power_on(instance)
        instance.power_state = self.parts.power_state(instance)
        instance.vm_state, instance.task_state = vm_states.ACTIVE, None
        await instance.save(expected_task_state=task_states.POWERING_ON)
        self.notifier.instance(ctxt, instance, "power_on", "end")

    @wrap_exception
    @reverts_task_state
    @wrap_instance_event(prefix="compute")
    @wrap_instance_fault
    async def terminate_instance(
        self, ctxt: RequestContext, instance: Instance, bdms: list[Any] | None = None
    ) -> None:
        """Destroy the guest and the row; a failure leaves the instance in ERROR."""
        async with self.parts.locks(instance.uuid):
            try:
                await self.delete_instance(ctxt, instance)
            except exception.InstanceNotFound:
                LOG.info("%s: instance %s already deleted", self.host, instance.uuid)
            except Exception:
                instance.vm_state = vm_states.ERROR
                with contextlib.suppress(*DELETED):
                    await instance.save()
                raise

    async def delete_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        """Destroy the guest (its shutdown notified), then the row (DELETED first),
        dropping its usage; ``delete.start`` before, ``delete.end`` after (Nova's
        ``_delete_instance``, also what crash recovery finishes)."""
        notify = self.notifier.instance
        notify(ctxt, instance, "delete", "start")
        notify(ctxt, instance, "shutdown", "start")
        await self.driver.destroy(instance)
        notify(ctxt, instance, "shutdown", "end")
        instance.power_state = power_state.NOSTATE
        instance.vm_state, instance.task_state = vm_states.DELETED, None
        instance.terminated_at = dt.datetime.now(dt.UTC)
        await instance.save()
        await self.parts.rt.drop_instance(ctxt, instance)
        await instance.destroy()
        notify(ctxt, instance, "delete", "end")
