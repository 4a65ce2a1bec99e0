"""Versioned notification payloads: Nova's notification objects as wire primitives.

Each payload is ``{"nova_object.name", "nova_object.namespace": "nova",
"nova_object.version", "nova_object.data"}`` with the fields and versions of
Nova's current ``nova/notifications/objects`` (``InstanceActionPayload``
1.9 …); no ``nova_object.changes``, as Nova resets them before emitting.
Datetimes are ``YYYY-MM-DDTHH:MM:SSZ``. What aionova does not model gets
Nova's value for an instance without it: no IP addresses, no key pair, no
tags, ``kernel_id``/``ramdisk_id`` empty, block devices and shares ``None``
(``bdms_in_notifications`` and ``include_share_mapping`` are off by default).
"""

from __future__ import annotations

import datetime as dt
import traceback
from typing import Any, Final

from aionova.context import RequestContext
from aionova.objects import Flavor, Instance, Service
from aionova.states import power_state

NAMESPACE: Final = "nova"
VERSIONS: Final = {
    "InstanceActionPayload": "1.9",
    "InstanceCreatePayload": "1.13",
    "InstanceActionRebuildPayload": "1.10",
    "InstanceUpdatePayload": "2.1",
    "InstanceStateUpdatePayload": "1.0",
    "InstanceExistsPayload": "2.1",
    "AuditPeriodPayload": "1.0",
    "FlavorPayload": "1.4",
    "ExceptionPayload": "1.1",
    "ServiceStatusPayload": "1.1",
}
# The user-editable attributes aionova keeps in Instance.system_metadata
# (written by PUT /servers/{id}; see aionova/api/views.py).
DESCRIPTION, DISK_CONFIG, LOCKED_REASON = "description", "disk_config", "locked_reason"


def primitive(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """The object primitive of a payload named ``name``."""
    return {
        "nova_object.name": name,
        "nova_object.namespace": NAMESPACE,
        "nova_object.version": VERSIONS[name],
        "nova_object.data": data,
    }


def isotime(value: dt.datetime | None) -> str | None:
    """A datetime field as Nova's notification objects write it (UTC, seconds, ``Z``)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def flavor_payload(instance: Instance) -> dict[str, Any]:
    """FlavorPayload 1.4 of the instance's flavor (its sizes when it has none)."""
    flavor = instance.flavor or Flavor(
        flavorid="",
        name="",
        memory_mb=instance.memory_mb,
        vcpus=instance.vcpus,
        root_gb=instance.root_gb,
        ephemeral_gb=instance.ephemeral_gb,
    )
    return primitive(
        "FlavorPayload",
        {
            "flavorid": flavor.flavorid,
            "memory_mb": flavor.memory_mb,
            "vcpus": flavor.vcpus,
            "root_gb": flavor.root_gb,
            "ephemeral_gb": flavor.ephemeral_gb,
            "name": flavor.name,
            "swap": flavor.swap,
            "rxtx_factor": 1.0,
            "vcpu_weight": 0,
            "disabled": False,
            "is_public": True,
            "extra_specs": {},
            "projects": None,
            "description": None,
        },
    )


def instance_data(ctxt: RequestContext | None, instance: Instance) -> dict[str, Any]:
    """The fields of InstancePayload 1.9 (shared by every instance payload)."""
    sysmeta = instance.system_metadata
    user_id = ctxt.user_id if ctxt else None
    project_id = ctxt.project_id if ctxt else None
    return {
        "uuid": instance.uuid,
        "user_id": instance.user_id,
        "tenant_id": instance.project_id,
        "reservation_id": instance.reservation_id,
        "display_name": instance.display_name,
        "display_description": sysmeta.get(DESCRIPTION),
        "host_name": instance.display_name,  # what the API shows as the hostname
        "host": instance.host,
        "node": instance.node,
        "os_type": None,
        "architecture": sysmeta.get("image_architecture"),
        "availability_zone": instance.availability_zone,
        "flavor": flavor_payload(instance),
        "image_uuid": instance.image_ref,
        "key_name": None,
        "kernel_id": "",
        "ramdisk_id": "",
        "created_at": isotime(instance.created_at),
        "launched_at": isotime(instance.launched_at),
        "terminated_at": isotime(instance.terminated_at),
        "deleted_at": isotime(_deleted_at(instance)),
        "updated_at": isotime(instance.updated_at),
        "state": instance.vm_state,
        "power_state": power_state.NAMES.get(instance.power_state, "pending"),
        "task_state": instance.task_state,
        "progress": instance.progress,
        "ip_addresses": [],
        "block_devices": None,
        "metadata": dict(instance.metadata),
        "locked": instance.locked,
        "auto_disk_config": sysmeta.get(DISK_CONFIG, "MANUAL"),
        # Nova leaves request_id out for contexts without a user (periodic tasks)
        "request_id": ctxt.request_id if ctxt and user_id and project_id else None,
        "action_initiator_user": user_id,
        "action_initiator_project": project_id,
        "locked_reason": sysmeta.get(LOCKED_REASON),
        "shares": None,
    }


def _deleted_at(instance: Instance) -> dt.datetime | None:
    """aionova keeps no deletion time: a deleted instance's termination (or last update)."""
    if not instance.deleted:
        return None
    return instance.terminated_at or instance.updated_at


def exception_payload(exc: BaseException) -> dict[str, Any]:
    """ExceptionPayload 1.1: where the exception was raised, its class, message, traceback."""
    tb = exc.__traceback__
    module_name, function_name = type(exc).__module__, "unknown"
    if tb is not None:
        while tb.tb_next is not None:
            tb = tb.tb_next
        module_name = tb.tb_frame.f_globals.get("__name__", "unknown")
        function_name = tb.tb_frame.f_code.co_name
    return primitive(
        "ExceptionPayload",
        {
            "module_name": module_name,
            "function_name": function_name,
            "exception": type(exc).__name__,
            "exception_message": str(exc),
            "traceback": ",".join(traceback.format_exception(exc)),
        },
    )


def action_payload(
    ctxt: RequestContext | None, instance: Instance, fault: BaseException | None = None
) -> dict[str, Any]:
    """InstanceActionPayload 1.9 (reboot, power, delete, evacuate …)."""
    data = instance_data(ctxt, instance)
    data["fault"] = exception_payload(fault) if fault is not None else None
    return primitive("InstanceActionPayload", data)


def create_payload(
    ctxt: RequestContext | None, instance: Instance, fault: BaseException | None = None
) -> dict[str, Any]:
    """InstanceCreatePayload 1.13 (instance.create.*)."""
    data = instance_data(ctxt, instance)
    data["fault"] = exception_payload(fault) if fault is not None else None
    data["block_devices"] = []  # the build passes its (empty) block device mappings
    data["keypairs"] = []
    data["tags"] = []
    data["trusted_image_certificates"] = None
    data["instance_name"] = f"instance-{instance.uuid}"
    return primitive("InstanceCreatePayload", data)


def rebuild_payload(
    ctxt: RequestContext | None, instance: Instance, fault: BaseException | None = None
) -> dict[str, Any]:
    """InstanceActionRebuildPayload 1.10 (instance.rebuild.*, instance.rebuild_scheduled)."""
    data = instance_data(ctxt, instance)
    data["fault"] = exception_payload(fault) if fault is not None else None
    data["trusted_image_certificates"] = None
    return primitive("InstanceActionRebuildPayload", data)


def audit_period(now: dt.datetime | None = None) -> dict[str, Any]:
    """AuditPeriodPayload 1.0 of the current (monthly) audit period, up to now."""
    now = now or dt.datetime.now(dt.UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return primitive(
        "AuditPeriodPayload",
        {"audit_period_beginning": isotime(start), "audit_period_ending": isotime(now)},
    )


def exists_payload(ctxt: RequestContext | None, instance: Instance) -> dict[str, Any]:
    """InstanceExistsPayload 2.1 (instance.exists): the instance and the audit period."""
    data = instance_data(ctxt, instance)
    data["audit_period"] = audit_period()
    return primitive("InstanceExistsPayload", data)


def update_payload(
    ctxt: RequestContext | None,
    instance: Instance,
    *,
    old_state: str | None,
    old_task_state: str | None,
    old_display_name: str | None = None,
) -> dict[str, Any]:
    """InstanceUpdatePayload 2.1 (instance.update)."""
    data = instance_data(ctxt, instance)
    data["state_update"] = primitive(
        "InstanceStateUpdatePayload",
        {
            "old_state": old_state,
            "state": instance.vm_state,
            "old_task_state": old_task_state,
            "new_task_state": instance.task_state,
        },
    )
    data["audit_period"] = audit_period()
    data["old_display_name"] = old_display_name
    data["tags"] = []
    return primitive("InstanceUpdatePayload", data)


def service_payload(service: Service, availability_zone: str | None = None) -> dict[str, Any]:
    """ServiceStatusPayload 1.1 (service.update / create / delete)."""
    return primitive(
        "ServiceStatusPayload",
        {
            "host": service.host,
            "binary": service.binary,
            "topic": service.topic,
            "report_count": service.report_count,
            "disabled": service.disabled,
            "disabled_reason": service.disabled_reason,
            "availability_zone": availability_zone,
            "last_seen_up": isotime(service.last_seen_up),
            "forced_down": service.forced_down,
            "version": service.version,
            "uuid": service.uuid,
        },
    )
