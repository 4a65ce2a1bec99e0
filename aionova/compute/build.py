"""Building an instance on this host: claim, spawn, and on failure reschedule or fail.

``build_and_run_instance`` hands the build to a task this part owns and returns; the
task takes the per-instance lock, then a build slot (``max_concurrent_builds``), marks
the build as started (compare-and-swap: still BUILDING, still scheduling), claims
resources and spawns. Every state save goes through the conductor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import traceback
from typing import Any

from aionova import exception
from aionova.compute.host import ComputeHost, Part
from aionova.conductor.rpcapi import ComputeTaskAPI
from aionova.context import RequestContext
from aionova.objects import ImageMeta, Instance, InstanceFault, RequestSpec
from aionova.states import task_states, vm_states
from aionova.utils import best_effort

LOG = logging.getLogger(__name__)
EVENT_BUILD = "compute__do_build_and_run_instance"
_DELETED = (exception.InstanceNotFound, exception.UnexpectedDeletingTaskStateError)


class Build(Part):
    """Owns the build tasks; ``cancel()`` ends them (a crash or a shutdown)."""

    def __init__(self, parts: ComputeHost, compute_task_api: ComputeTaskAPI) -> None:
        super().__init__(parts)
        self.compute_task_api = compute_task_api
        slots = parts.config.DEFAULT.max_concurrent_builds
        self._slots = asyncio.Semaphore(slots if slots > 0 else 1_000_000)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def start(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        node: str | None,
        limits: dict[str, Any] | None,
    ) -> None:
        """Run the build in a task this part owns."""
        coro = self._locked_build(
            ctxt, instance, image, request_spec, filter_properties, node, limits
        )
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _locked_build(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        node: str | None,
        limits: dict[str, Any] | None,
    ) -> None:
        try:
            async with self.parts.locks(instance.uuid), self._slots:
                if await self._started(ctxt, instance):
                    await self._build(
                        ctxt, instance, image, request_spec, filter_properties, node, limits
                    )
        except Exception:
            LOG.exception("%s: build of %s failed unexpectedly", self.host, instance.uuid)

    async def _started(self, ctxt: RequestContext, instance: Instance) -> bool:
        """Task None: this compute starts the build (``instance_start_build``: only a
        build still waiting for a host, last sent here). False when the instance was
        deleted, errored out (e.g. by the conductor's recovery of a build that waited
        longer than ``build_recovery_timeout``), started already (a duplicate delivery)
        or sent elsewhere since (a reschedule): nothing is done twice."""
        try:
            started = await self.store.instance_start_build(ctxt, instance.uuid, self.host)
        except (*_DELETED, exception.InstanceUpdateConflict) as exc:
            LOG.info("%s: build of %s not started here: %s", self.host, instance.uuid, exc)
            return False
        instance.obj_refresh_from(started)
        return True

    async def _build(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        node: str | None,
        limits: dict[str, Any] | None,
    ) -> None:
        await self.store.action_event_start(ctxt, instance.uuid, EVENT_BUILD, self.host)
        result, tb = "Success", None
        try:
            await self._build_and_run(ctxt, instance, image, limits, node)
        except exception.RescheduledException as exc:
            result, tb = "Error", traceback.format_exc()
            if not filter_properties.get("retry"):
                await self._fail(ctxt, instance, exc, tb)
            else:
                await self._reschedule(ctxt, instance, image, request_spec, filter_properties, exc)
        except _DELETED:
            result, tb = "Error", traceback.format_exc()
        except Exception as exc:
            result, tb = "Error", traceback.format_exc()
            await self._fail(ctxt, instance, exc, tb)
        finish = self.store.action_event_finish(ctxt, instance.uuid, EVENT_BUILD, result, tb)
        await best_effort(f"{self.host}: closing the build event of {instance.uuid}", finish)

    async def _build_and_run(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        limits: dict[str, Any] | None,
        node: str | None,
    ) -> None:
        image_meta = image if isinstance(image, ImageMeta) else None
        notify = self.notifier.instance
        notify(ctxt, instance, "create", "start", extra={"image_name": _image_name(image)})
        try:
            async with await self.parts.rt.instance_claim(ctxt, instance, node, limits):
                instance.task_state = task_states.NETWORKING
                await instance.save(expected_task_state=[None])
                instance.task_state = task_states.BLOCK_DEVICE_MAPPING
                await instance.save()
                instance.task_state = task_states.SPAWNING
                await instance.save(expected_task_state=task_states.BLOCK_DEVICE_MAPPING)
                await self._spawn_guest(instance, image_meta)
        except exception.ComputeResourcesUnavailable as exc:
            notify(ctxt, instance, "create", "error", exception=exc)
            raise exception.RescheduledException(
                instance_uuid=instance.uuid, reason=exc.message
            ) from exc
        except (*_DELETED, exception.BuildAbortException) as exc:
            notify(ctxt, instance, "create", "error", exception=exc)
            raise
        except Exception as exc:
            notify(ctxt, instance, "create", "error", exception=exc)
            raise exception.RescheduledException(
                instance_uuid=instance.uuid, reason=str(exc)
            ) from exc
        await self._finish(ctxt, instance)

    async def _finish(self, ctxt: RequestContext, instance: Instance) -> None:
        """ACTIVE, launched now; ``create.end`` (``create.error`` if it was deleted meanwhile)."""
        instance.power_state = self.parts.power_state(instance)
        instance.vm_state, instance.task_state = vm_states.ACTIVE, None
        instance.launched_at = dt.datetime.now(dt.UTC)
        try:
            await instance.save(expected_task_state=task_states.SPAWNING)
        except _DELETED as exc:
            self.notifier.instance(ctxt, instance, "create", "error", exception=exc)
            raise
        self.notifier.instance(ctxt, instance, "create", "end", extra={"message": "Success"})

    async def _spawn_guest(self, instance: Instance, image_meta: ImageMeta | None) -> None:
        """driver.spawn bounded by instance_build_timeout; a failed guest is cleaned up."""
        timeout = self.parts.config.DEFAULT.instance_build_timeout or None
        try:
            async with asyncio.timeout(timeout):
                await self.driver.spawn(instance, image_meta)
        except TimeoutError as exc:
            await self._destroy_failed_guest(instance)
            raise exception.BuildAbortException(
                instance_uuid=instance.uuid, reason=f"spawn took longer than {timeout}s"
            ) from exc
        except Exception:
            await self._destroy_failed_guest(instance)
            raise

    async def _destroy_failed_guest(self, instance: Instance) -> None:
        what = f"{self.host}: destroying the failed guest of {instance.uuid}"
        await best_effort(what, self.driver.destroy(instance), logger=LOG)

    async def _reschedule(
        self,
        ctxt: RequestContext,
        instance: Instance,
        image: Any,
        request_spec: RequestSpec | None,
        filter_properties: dict[str, Any],
        exc: exception.RescheduledException,
    ) -> None:
        """Back to SCHEDULING, untagged, and a new build_instances through the conductor."""
        filter_properties["retry"]["exc_reason"] = exc.message
        instance.host = instance.node = instance.launched_on = None
        instance.task_state = task_states.SCHEDULING
        try:
            await instance.save()
        except _DELETED:
            return
        await self._release(ctxt, instance)
        await self.compute_task_api.build_instances(
            ctxt, [instance], image, filter_properties, request_spec=request_spec
        )

    async def _fail(
        self, ctxt: RequestContext, instance: Instance, exc: Exception, tb: str | None
    ) -> None:
        """Fault recorded, host/node cleared, ERROR with task None; the failure notified
        as ``compute.exception`` (and the legacy ``build_and_run_instance`` ERROR event).

        Nova's ``_do_build_and_run_instance`` sits under ``wrap_exception`` too but
        returns instead of raising, so Nova sends ``create.error`` only; aionova also
        reports the failure that errors the instance out here, so a consumer of
        ``compute.exception`` sees failed builds."""
        args = {"instance": instance}
        self.notifier.exception(ctxt, exc, function_name="build_and_run_instance", args=args)
        code = getattr(exc, "kwargs", {}).get("code", 500)
        fault = InstanceFault(
            instance_uuid=instance.uuid,
            code=code,
            message=str(exc),
            details=tb or "",
            host=self.host,
        )
        what = f"{self.host}: recording the build fault of {instance.uuid}"
        await best_effort(what, self.store.instance_fault_create(ctxt, fault), logger=LOG)
        instance.host = instance.node = instance.launched_on = None
        instance.vm_state, instance.task_state = vm_states.ERROR, None
        try:
            await instance.save()
        except _DELETED:
            LOG.info("%s: %s was deleted while its build failed", self.host, instance.uuid)
            return
        await self._release(ctxt, instance)

    async def _release(self, ctxt: RequestContext, instance: Instance) -> None:
        """A failed build gives its allocations back (Nova deletes them from placement;
        the conductor's periodic clean-up catches what a failure here leaves)."""
        what = f"{self.host}: releasing the allocations of {instance.uuid}"
        await best_effort(what, self.store.allocation_delete(ctxt, instance.uuid), logger=LOG)


def _image_name(image: Any) -> str:
    """The image's name for ``create.start`` (an ImageMeta, or a dict from an older peer)."""
    if isinstance(image, ImageMeta):
        return image.name
    if isinstance(image, dict):
        return str(image.get("name") or "")
    return ""
