"""Versioned msgspec objects shared by every service."""

from aionova.objects.base import NovaObject, obj_from_primitive
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
from aionova.objects.serializer import ObjectSerializer
from aionova.objects.store import ObjectStore

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
    "ObjectStore",
    "RequestSpec",
    "SchedulerRetries",
    "Service",
    "obj_from_primitive",
]
