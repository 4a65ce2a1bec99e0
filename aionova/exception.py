"""The control plane's exception family.

Every class keeps its keyword arguments in ``kwargs`` and its message in
``args[0]`` so the RPC layer rebuilds it on the caller as ``cls(*args, **kwargs)``
(the transport must allow this module: ``allowed_remote_exmods=["aionova.exception"]``).
"""

from __future__ import annotations

from typing import Any

ALLOWED_EXMODS = ("aionova.exception",)


class NovaException(Exception):
    """Base: ``msg_fmt`` formatted with the keyword arguments."""

    msg_fmt = "An unknown exception occurred."
    code = 500

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.kwargs.setdefault("code", self.code)
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError, ValueError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class NotFound(NovaException):
    msg_fmt = "Resource could not be found."
    code = 404


class InstanceNotFound(NotFound):
    msg_fmt = "Instance %(instance_id)s could not be found."


class FlavorNotFound(NotFound):
    msg_fmt = "Flavor %(flavor_id)s could not be found."


class ImageNotFound(NotFound):
    msg_fmt = "Image %(image_id)s could not be found."


class ComputeHostNotFound(NotFound):
    msg_fmt = "Compute host %(host)s could not be found."


class ComputeNodeNotFound(NotFound):
    msg_fmt = "Compute node %(node)s on host %(host)s could not be found."


class ServiceNotFound(NotFound):
    msg_fmt = "Service %(service_id)s could not be found."


class MigrationNotFound(NotFound):
    msg_fmt = "Migration %(migration_id)s could not be found."


class Invalid(NovaException):
    msg_fmt = "Bad Request - Invalid Parameters"
    code = 400


class FlavorExists(NovaException):
    msg_fmt = "Flavor with name %(name)s already exists."
    code = 409


class FlavorIdExists(NovaException):
    msg_fmt = "Flavor with ID %(flavor_id)s already exists."
    code = 409


class FlavorMemoryTooSmall(Invalid):
    msg_fmt = "Flavor's memory is too small for requested image."


class FlavorDiskTooSmall(Invalid):
    msg_fmt = "Flavor's disk is too small for requested image."


class InvalidRequest(Invalid):
    msg_fmt = "The request is invalid: %(reason)s"


class InstanceInvalidState(Invalid):
    msg_fmt = (
        "Instance %(instance_uuid)s in %(attr)s %(state)s. "
        "Cannot %(method)s while the instance is in this state."
    )
    code = 409


class InstanceUpdateConflict(NovaException):
    msg_fmt = "Conflict updating instance %(instance_uuid)s."
    code = 409


class UnexpectedTaskStateError(InstanceUpdateConflict):
    msg_fmt = (
        "Conflict updating instance %(instance_uuid)s. Expected: %(expected)s. Actual: %(actual)s"
    )


class UnexpectedDeletingTaskStateError(UnexpectedTaskStateError):
    pass


class ComputeResourcesUnavailable(NovaException):
    msg_fmt = "Insufficient compute resources: %(reason)s."


class RescheduledException(NovaException):
    msg_fmt = "Build of instance %(instance_uuid)s was re-scheduled: %(reason)s"


class BuildAbortException(NovaException):
    msg_fmt = "Build of instance %(instance_uuid)s aborted: %(reason)s"


class NoValidHost(NovaException):
    msg_fmt = "No valid host was found. %(reason)s"


class MaxRetriesExceeded(NoValidHost):
    msg_fmt = "Exceeded maximum number of retries. %(reason)s"


class ObjectVersionError(NovaException):
    msg_fmt = "Cannot accept %(objname)s version %(objver)s (have %(supported)s)."


class ServiceTooOld(NovaException):
    msg_fmt = "Service version %(version)s is older than the minimum supported."


class VirtDriverError(NovaException):
    msg_fmt = "Virt driver failure on %(instance_uuid)s: %(reason)s"


class InstanceExists(NovaException):
    msg_fmt = "Instance %(name)s already exists."


class InstanceIsLocked(InstanceInvalidState):
    msg_fmt = "Instance %(instance_uuid)s is locked"


class InstanceNotReady(InstanceInvalidState):
    msg_fmt = "Instance %(instance_id)s is not ready"


class ComputeServiceInUse(Invalid):
    msg_fmt = "Compute service of %(host)s is still in use."


class ComputeServiceUnavailable(NovaException):
    msg_fmt = "Compute service of %(host)s is unavailable at this time."


class InvalidSharedStorage(Invalid):
    msg_fmt = "%(path)s is not on shared storage: %(reason)s"


class InstanceEvacuateNotSupported(Invalid):
    msg_fmt = "Instance evacuate is not supported."


class InstanceFaultRollback(NovaException):
    """Roll the vm_state back instead of ERROR; carries the real cause in ``inner_exception``."""

    msg_fmt = "Instance rollback performed due to: %(inner_exception)s"

    def __init__(self, inner_exception: Exception | None = None, **kwargs: Any) -> None:
        self.inner_exception = inner_exception
        super().__init__(inner_exception=inner_exception, **kwargs)


class InvalidConfiguration(NovaException):
    msg_fmt = "Configuration is invalid: %(reason)s"


class ServiceForceUpRefused(Invalid):
    msg_fmt = (
        "Unable to force up host %(host)s: evacuation migration records in 'done' "
        "status remain; restart its compute service first."
    )
