"""Response shapes per microversion: servers, flavors, images."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from aionova.api.microversion import Version
from aionova.context import RequestContext
from aionova.objects import Flavor, ImageMeta, Instance, InstanceFault
from aionova.states import api_status

# The user-editable server attributes kept in ``Instance.system_metadata``
# (PUT /servers/{id} writes them; absent = Nova's default).
DESCRIPTION = "description"
ACCESS_IP_V4 = "access_ip_v4"
ACCESS_IP_V6 = "access_ip_v6"
DISK_CONFIG = "disk_config"


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def iso(value: dt.datetime | str | None) -> str | None:
    """``2026-08-01T10:00:00Z`` (Nova's text form), or None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _naive_utc(value).replace(microsecond=0).isoformat() + "Z"


def iso_micro(value: dt.datetime | None) -> str | None:
    """``2026-08-01T10:00:00.000000`` (Nova's JSON form of a datetime field), or None."""
    if value is None:
        return None
    return _naive_utc(value).isoformat(timespec="microseconds")


def links(base: str, kind: str, ident: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base}/v2.1/{kind}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{kind}/{ident}"},
    ]


def flavor(base: str, f: Flavor, version: Version) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": f.flavorid,
        "name": f.name,
        "ram": f.memory_mb,
        "disk": f.root_gb,
        "vcpus": f.vcpus,
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": False,
        "swap": f.swap if (f.swap or version.at_least("2.75")) else "",
        "rxtx_factor": 1.0,
        "os-flavor-access:is_public": True,
        "links": links(base, "flavors", f.flavorid),
    }
    if version.at_least("2.55"):
        view["description"] = f.description
    return view


def flavor_brief(base: str, f: Flavor, version: Version) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": f.flavorid,
        "name": f.name,
        "links": links(base, "flavors", f.flavorid),
    }
    if version.at_least("2.55"):
        view["description"] = f.description
    return view


def glance_image(image: ImageMeta) -> dict[str, Any]:
    """A Glance v2 image (flat, as novaclient and openstacksdk read it)."""
    return {
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": "public",
        "protected": False,
        "min_ram": image.min_ram,
        "min_disk": image.min_disk,
        "size": image.size,
        "disk_format": "qcow2",
        "container_format": "bare",
        "tags": [],
        "owner": None,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
        **{k: v for k, v in image.properties.items() if isinstance(v, (str, int, float, bool))},
    }


def nova_image(base: str, image: ImageMeta) -> dict[str, Any]:
    """The deprecated compute image proxy's shape (GET /v2.1/images/{id}, below 2.36)."""
    return {
        "id": image.id,
        "name": image.name,
        "status": image.status.upper(),
        "minRam": image.min_ram,
        "minDisk": image.min_disk,
        "progress": 100,
        "metadata": {},
        "OS-EXT-IMG-SIZE:size": image.size,
        "created": "2026-01-01T00:00:00Z",
        "updated": "2026-01-01T00:00:00Z",
        "links": links(base, "images", image.id),
    }


def host_id(project_id: str | None, host: str | None) -> str:
    """Nova's opaque per-project host hash ("" when unplaced)."""
    if not host:
        return ""
    return hashlib.sha224(f"{project_id}{host}".encode()).hexdigest()


def _addresses(instance: Instance) -> dict[str, list[dict[str, Any]]]:
    """A fixed address on the fake ``private`` network once the server is placed."""
    if not instance.host:
        return {}
    digest = hashlib.sha256(instance.uuid.encode()).digest()
    addr = f"10.{digest[0]}.{digest[1]}.{(digest[2] % 253) + 2}"
    mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[3:6])
    entry = {"addr": addr, "version": 4, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}
    return {"private": [entry]}


def _embedded_flavor(base: str, instance: Instance, version: Version) -> dict[str, Any]:
    f = instance.flavor
    if not version.at_least("2.47"):
        ident = f.flavorid if f else ""
        return {"id": ident, "links": [{"rel": "bookmark", "href": f"{base}/flavors/{ident}"}]}
    return {
        "vcpus": instance.vcpus,
        "ram": instance.memory_mb,
        "disk": instance.root_gb,
        "ephemeral": instance.ephemeral_gb,
        "swap": f.swap if f else 0,
        "original_name": f.name if f else "",
        "extra_specs": {},
    }


def server_brief(base: str, instance: Instance) -> dict[str, Any]:
    return {
        "id": instance.uuid,
        "name": instance.display_name,
        "links": links(base, "servers", instance.uuid),
    }


def server(
    base: str,
    ctxt: RequestContext,
    instance: Instance,
    version: Version,
    *,
    fault: InstanceFault | None = None,
    host_status: str | None = None,
    extended: bool | None = None,
) -> dict[str, Any]:
    """The full server view at ``version``; ``OS-EXT-SRV-ATTR:*`` only when ``extended``
    (the os-extended-server-attributes policy; default: for admins)."""
    view = _attributes(base, instance, version)
    if ctxt.is_admin if extended is None else extended:
        view.update(_admin_attributes(instance, version))
    view.update(_versioned(instance, version, host_status))
    if fault is not None:
        view["fault"] = {
            "code": fault.code,
            "message": fault.message,
            "created": iso(fault.created_at),
            **({"details": fault.details} if ctxt.is_admin and fault.details else {}),
        }
    return view


def _admin_attributes(instance: Instance, version: Version) -> dict[str, Any]:
    """The ``OS-EXT-SRV-ATTR:*`` attributes only admins see."""
    view: dict[str, Any] = {
        "OS-EXT-SRV-ATTR:host": instance.host,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": instance.node,
        "OS-EXT-SRV-ATTR:instance_name": f"instance-{instance.uuid[:8]}",
    }
    if version.at_least("2.3"):
        view["OS-EXT-SRV-ATTR:reservation_id"] = instance.reservation_id
        view["OS-EXT-SRV-ATTR:launch_index"] = 0
        view["OS-EXT-SRV-ATTR:hostname"] = instance.display_name
        view["OS-EXT-SRV-ATTR:kernel_id"] = ""
        view["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
        view["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
        view["OS-EXT-SRV-ATTR:user_data"] = None
    return view


def _versioned(instance: Instance, version: Version, host_status: str | None) -> dict[str, Any]:
    """Attributes added by later microversions."""
    view: dict[str, Any] = {}
    if version.at_least("2.9"):
        view["locked"] = instance.locked
    if version.at_least("2.16") and host_status is not None:
        view["host_status"] = host_status
    if version.at_least("2.19"):
        view["description"] = instance.system_metadata.get(DESCRIPTION)
    if version.at_least("2.26"):
        view["tags"] = []
    return view


def _attributes(base: str, instance: Instance, version: Version) -> dict[str, Any]:
    """What every caller sees of a server at any microversion."""
    image: Any = ""
    if instance.image_ref:
        image = {
            "id": instance.image_ref,
            "links": [{"rel": "bookmark", "href": f"{base}/images/{instance.image_ref}"}],
        }
    return {
        **server_brief(base, instance),
        "status": api_status(instance.vm_state, instance.task_state),
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "metadata": dict(instance.metadata),
        "hostId": host_id(instance.project_id, instance.host),
        "image": image,
        "flavor": _embedded_flavor(base, instance, version),
        "created": iso(instance.created_at),
        "updated": iso(instance.updated_at),
        "addresses": _addresses(instance),
        "accessIPv4": instance.system_metadata.get(ACCESS_IP_V4, ""),
        "accessIPv6": instance.system_metadata.get(ACCESS_IP_V6, ""),
        "progress": instance.progress,
        "OS-DCF:diskConfig": instance.system_metadata.get(DISK_CONFIG, "MANUAL"),
        "OS-EXT-AZ:availability_zone": instance.availability_zone or "nova",
        "config_drive": "",
        "key_name": None,
        "OS-SRV-USG:launched_at": iso(instance.launched_at),
        "OS-SRV-USG:terminated_at": iso(instance.terminated_at),
        "OS-EXT-STS:task_state": instance.task_state,
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:power_state": instance.power_state,
        "os-extended-volumes:volumes_attached": [],
        "security_groups": [{"name": "default"}],
    }
