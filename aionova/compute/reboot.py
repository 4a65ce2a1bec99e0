"""Reboot on the compute: soft and hard (spec §1.3.2-1.3.3, seed 003)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aionova import exception
from aionova.compute.host import Part
from aionova.compute.wrappers import (
    DELETED,
    add_instance_fault,
    reverts_task_state,
    wrap_exception,
    wrap_instance_event,
    wrap_instance_fault,
)
from aionova.context import RequestContext
from aionova.objects import Instance
from aionova.states import power_state, task_states, vm_states

LOG = logging.getLogger(__name__)


class Reboot(Part):
    """``reboot_instance``: under the per-instance lock, PENDING -> STARTED -> driver -> idle."""

    @wrap_exception
    @reverts_task_state
    @wrap_instance_event(prefix="compute")
    @wrap_instance_fault
    async def reboot_instance(
        self,
        ctxt: RequestContext,
        instance: Instance,
        block_device_info: Any = None,
        reboot_type: str = "SOFT",
    ) -> None:
        """Cast from the API (4.0); also called directly by crash recovery."""
        async with self.parts.locks(instance.uuid):
            await self._do_reboot_instance(ctxt, instance, reboot_type)

    async def _do_reboot_instance(
        self, ctxt: RequestContext, instance: Instance, reboot_type: str
    ) -> None:
        soft = reboot_type == "SOFT"
        if soft:
            expected, pending, started = (
                task_states.soft_reboot_states,
                task_states.REBOOT_PENDING,
                task_states.REBOOT_STARTED,
            )
        else:
            expected, pending, started = (
                task_states.hard_reboot_states,
                task_states.REBOOT_PENDING_HARD,
                task_states.REBOOT_STARTED_HARD,
            )
        instance.power_state = self.parts.power_state(instance)
        instance.task_state = pending
        self.notifier.instance(ctxt, instance, "reboot", "start")
        await instance.save(expected_task_state=expected)
        if instance.power_state != power_state.RUNNING:
            LOG.warning("%s: rebooting %s which is not running", self.host, instance.uuid)
        instance.task_state = started
        await instance.save(expected_task_state=pending)
        new_vm_state = (
            vm_states.RESCUED if instance.vm_state == vm_states.RESCUED else vm_states.ACTIVE
        )
        try:
            await self.driver.reboot(instance, reboot_type)
        except Exception as exc:
            current = self.parts.power_state(instance)
            if current != power_state.RUNNING:
                instance.vm_state, instance.power_state = vm_states.ERROR, current
                with contextlib.suppress(*DELETED):
                    await instance.save()
                raise
            LOG.warning("%s: reboot of %s failed but the guest runs: %s", self.host, instance, exc)
            await add_instance_fault(self.store, ctxt, instance, exc, self.host)
            self.notifier.instance(ctxt, instance, "reboot", "error", exception=exc)
        instance.power_state = self.parts.power_state(instance)
        instance.vm_state, instance.task_state = new_vm_state, None
        try:
            await instance.save(expected_task_state=started)
        except exception.InstanceNotFound:
            LOG.warning("%s: instance %s disappeared during reboot", self.host, instance.uuid)
        self.notifier.instance(ctxt, instance, "reboot", "end")
