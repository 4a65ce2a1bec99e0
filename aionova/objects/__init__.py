"""Versioned msgspec objects shared by every service."""

from aionova.objects.base import NovaObject, ObjectSerializer, obj_from_primitive
from aionova.objects.compute import ComputeNode, Service
from aionova.objects.instance import (
    Flavor,
    ImageMeta,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
)
from aionova.objects.request_spec import Destination, Migration, RequestSpec, SchedulerRetries

__all__ = [
    "ComputeNode",
    "Destination",
    "Flavor",
    "ImageMeta",
    "Instance",
    "InstanceAction",
    "InstanceActionEvent",
    "InstanceFault",
    "Migration",
    "NovaObject",
    "ObjectSerializer",
    "RequestSpec",
    "SchedulerRetries",
    "Service",
    "obj_from_primitive",
]
