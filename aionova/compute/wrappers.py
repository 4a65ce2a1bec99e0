"""Compute-manager decorators with Nova's meaning (spec §1.2).

Each wraps ``async def handler(self, ctxt, instance, ...)`` of a part of the compute
manager that has ``host`` and ``store`` (the conductor client). A crash
(``CancelledError``) passes through all of them untouched: nothing more is saved, as
after a real kill. What they record on the way out is best effort (logged if it fails),
so the handler's own error is the one that propagates.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from aionova import exception
from aionova.context import RequestContext
from aionova.notifications.service import ServiceNotifications
from aionova.objects import Instance, InstanceFault, Migration, ObjectStore
from aionova.states import vm_states
from aionova.utils import best_effort

LOG = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
DELETED = (exception.InstanceNotFound, exception.UnexpectedDeletingTaskStateError)


class Owner(Protocol):
    """What the decorators read from the object whose method they wrap."""

    host: str
    store: ObjectStore
    notifier: ServiceNotifications


async def add_instance_fault(
    store: ObjectStore, ctxt: RequestContext, instance: Instance, exc: BaseException, host: str
) -> None:
    """Record ``instance_faults`` (never raises: a failure is logged)."""
    code = getattr(exc, "kwargs", {}).get("code", 500)
    tb = "".join(traceback.format_exception(exc))
    fault = InstanceFault(
        instance_uuid=instance.uuid, code=code, message=str(exc), details=tb, host=host
    )
    await best_effort(
        f"recording the fault of {instance.uuid}",
        store.instance_fault_create(ctxt, fault),
        logger=LOG,
    )


def wrap_exception(func: F) -> F:
    """Nova's ``wrap_exception``: a failure is notified (the legacy event named after the
    method and ``compute.exception``, both ERROR), then re-raised."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    async def inner(self: Owner, ctxt: RequestContext, *a: Any, **k: Any) -> Any:
        try:
            return await func(self, ctxt, *a, **k)
        except Exception as exc:
            try:
                args = signature.bind(self, ctxt, *a, **k).arguments
            except TypeError:  # the call itself did not match: no arguments to report
                args = {}
            call = {n: v for n, v in args.items() if n not in ("self", "ctxt")}
            self.notifier.exception(ctxt, exc, function_name=func.__name__, args=call)
            raise

    return inner  # type: ignore[return-value]  # inner takes and returns what func does


def reverts_task_state(func: F) -> F:
    """On failure set task_state None, unless the task was pre-empted (UnexpectedTaskState)."""

    @functools.wraps(func)
    async def inner(
        self: Owner, ctxt: RequestContext, instance: Instance, *a: Any, **k: Any
    ) -> Any:
        try:
            return await func(self, ctxt, instance, *a, **k)
        except exception.UnexpectedTaskStateError:
            LOG.info("%s: task of %s possibly preempted", self.host, instance.uuid)
            raise
        except Exception:
            fresh = await best_effort(
                f"{self.host}: reverting the task state of {instance.uuid}",
                self.store.instance_update(ctxt, instance.uuid, {"task_state": None}),
                logger=LOG,
                quiet=(exception.InstanceNotFound,),
            )
            if fresh is not None:
                instance.obj_refresh_from(fresh)
            raise

    return inner  # type: ignore[return-value]  # inner takes and returns what func does


def wrap_instance_fault(func: F) -> F:
    """Record a fault for any failure but InstanceNotFound, then re-raise."""

    @functools.wraps(func)
    async def inner(
        self: Owner, ctxt: RequestContext, instance: Instance, *a: Any, **k: Any
    ) -> Any:
        try:
            return await func(self, ctxt, instance, *a, **k)
        except exception.InstanceNotFound:
            raise
        except Exception as exc:
            await add_instance_fault(self.store, ctxt, instance, exc, self.host)
            raise

    return inner  # type: ignore[return-value]  # inner takes and returns what func does


def wrap_instance_event(prefix: str = "compute") -> Callable[[F], F]:
    """Open the action event ``<prefix>_<method>``; close it ``Success`` or ``Error``.

    A request delivered again (at-least-once: a redelivery, a duplicate cast) finds
    its event opened already: the handler does not run a second time (no second
    fault, event or notification); it returns None.
    """

    def outer(func: F) -> F:
        event = f"{prefix}_{func.__name__}"

        @functools.wraps(func)
        async def inner(
            self: Owner, ctxt: RequestContext, instance: Instance, *a: Any, **k: Any
        ) -> Any:
            what = f"{self.host}: event {event} of {instance.uuid}"
            store, uuid = self.store, instance.uuid
            first = await best_effort(
                what, store.action_event_start_once(ctxt, uuid, event, self.host)
            )
            if first is False:
                LOG.info(
                    "%s: %s of %s (request %s) was delivered again: done or in progress",
                    self.host, func.__name__, uuid, ctxt.request_id,
                )  # fmt: skip
                return None
            try:
                result = await func(self, ctxt, instance, *a, **k)
            except Exception:
                tb = traceback.format_exc()
                finish = store.action_event_finish(ctxt, uuid, event, "Error", tb)
                await best_effort(what, finish, logger=LOG)
                raise
            await best_effort(what, store.action_event_finish(ctxt, uuid, event, "Success"))
            return result

        return inner  # type: ignore[return-value]  # inner takes and returns what func does

    return outer


@contextlib.asynccontextmanager
async def error_out_instance_on_exception(
    instance: Instance, instance_state: str = vm_states.ACTIVE
) -> AsyncIterator[None]:
    """``InstanceFaultRollback`` / NotImplementedError: restore ``instance_state`` (task None)
    and raise the inner error; anything else: vm ERROR (task left to reverts_task_state)."""
    try:
        yield
    except (NotImplementedError, exception.InstanceFaultRollback) as exc:
        instance.vm_state, instance.task_state = instance_state, None
        with contextlib.suppress(*DELETED):
            await instance.save()
        if isinstance(exc, exception.InstanceFaultRollback) and exc.inner_exception:
            raise exc.inner_exception from exc
        raise
    except DELETED:
        raise
    except Exception:
        instance.vm_state = vm_states.ERROR
        with contextlib.suppress(*DELETED):
            await instance.save()
        raise


async def set_migration_status(migration: Migration | None, status: str) -> None:
    """Best effort: a migration's status (None is fine)."""
    if migration is not None:
        migration.status = status
        await best_effort(f"setting migration {migration.uuid} to {status}", migration.save())
