"""Unversioned (legacy) notification payloads: Nova's ``info_from_instance`` dict.

``compute.instance.<action>.<phase>`` events carry a flat dict of the
instance (owner, identity, type, sizes, location, dates, image, states) plus
what the caller adds (``image_name`` on ``create.start``, ``message`` on
``create.end`` …). On errors Nova adds ``exception``, ``message`` and ``code``
(``exception_to_dict``; the exception as its ``repr``, as Nova's JSON payload
serializer writes it); aionova adds the same three, and a ``fault`` dict
(``message``, ``code``, ``details``) shaped like the server's fault record.
"""

from __future__ import annotations

import datetime as dt
import traceback
from typing import Any

from aionova.objects import Instance

_MESSAGE_LIMIT = 255


def _strtime(value: dt.datetime | None) -> str:
    """Nova's ``null_safe_isotime``: ``%Y-%m-%dT%H:%M:%S.%f`` (UTC), or ``''``."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _created(value: dt.datetime | None) -> str:
    """Nova writes ``str(instance.created_at)``: ``2026-11-30 16:00:00+00:00``."""
    if value is None:
        return "None"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return str(value.astimezone(dt.UTC))


def image_meta(system_metadata: dict[str, str]) -> dict[str, str]:
    """The ``image_*`` entries of the system metadata, prefix removed."""
    return {k[6:]: v for k, v in system_metadata.items() if k.startswith("image_")}


def image_ref_url(instance: Instance, image_api_url: str | None) -> str | None:
    """``<image API>/images/<id>``; the bare id when no image endpoint is known
    (Nova's fallback when it cannot find the image service)."""
    if instance.image_ref is None:
        return None
    if image_api_url:
        return f"{image_api_url.rstrip('/')}/images/{instance.image_ref}"
    return instance.image_ref


def info_from_instance(
    instance: Instance, *, image_api_url: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The legacy payload of ``instance``; ``extra`` entries are added (or override)."""
    flavor = instance.flavor
    sysmeta = instance.system_metadata
    info: dict[str, Any] = {
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "instance_id": instance.uuid,
        "display_name": instance.display_name,
        "reservation_id": instance.reservation_id,
        "hostname": instance.display_name,
        "instance_type": flavor.name if flavor else "",
        "instance_type_id": flavor.id if flavor else None,
        "instance_flavor_id": flavor.flavorid if flavor else "",
        "architecture": sysmeta.get("image_architecture"),
        "memory_mb": instance.memory_mb,
        "disk_gb": instance.root_gb + instance.ephemeral_gb,
        "vcpus": instance.vcpus,
        "root_gb": instance.root_gb,
        "ephemeral_gb": instance.ephemeral_gb,
        "host": instance.host,
        "node": instance.node,
        "availability_zone": instance.availability_zone,
        "cell_name": "",
        "created_at": _created(instance.created_at),
        "terminated_at": _strtime(instance.terminated_at),
        "deleted_at": _strtime(
            (instance.terminated_at or instance.updated_at) if instance.deleted else None
        ),
        "launched_at": _strtime(instance.launched_at),
        "image_ref_url": image_ref_url(instance, image_api_url),
        "os_type": None,
        "kernel_id": "",
        "ramdisk_id": "",
        "state": instance.vm_state,
        "state_description": instance.task_state or "",
        "progress": int(instance.progress) if instance.progress else "",
        "access_ip_v4": sysmeta.get("access_ip_v4"),
        "access_ip_v6": sysmeta.get("access_ip_v6"),
        "image_meta": image_meta(sysmeta),
        "metadata": dict(instance.metadata),
    }
    info.update(extra)
    return info


def fault_info(exc: BaseException) -> dict[str, Any]:
    """What Nova's ``exception_to_dict`` adds to an ``.error`` payload, and ``fault``."""
    code = 500
    kwargs = getattr(exc, "kwargs", None)
    if isinstance(kwargs, dict) and isinstance(kwargs.get("code"), int):
        code = kwargs["code"]
    try:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    except Exception:  # Nova's rule: an unformattable message becomes the class name
        message = ""
    message = (message or type(exc).__name__)[:_MESSAGE_LIMIT]
    details = "".join(traceback.format_exception(exc)) if code == 500 else ""
    return {
        "exception": repr(exc),  # how Nova's JSON payload serializer writes an exception
        "message": message,
        "code": code,
        "fault": {"message": message, "code": code, "details": details},
    }


def update_info(
    instance: Instance,
    old_vm_state: str | None,
    old_task_state: str | None,
    old_display_name: str | None,
) -> dict[str, Any]:
    """What ``compute.instance.update`` adds to ``info_from_instance``: the states, the
    current audit period (Nova's ``str`` of naive UTC datetimes) and a changed name."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    extra: dict[str, Any] = {
        "old_state": old_vm_state,
        "state": instance.vm_state,
        "old_task_state": old_task_state,
        "new_task_state": instance.task_state,
        "audit_period_beginning": start.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "audit_period_ending": now.strftime("%Y-%m-%dT%H:%M:%S.%f"),
    }
    if old_display_name:
        extra["old_display_name"] = old_display_name
    return extra
