"""The all-in-one's starter catalogue: flavors and images (idempotent)."""

from __future__ import annotations

from aionova.objects import Flavor, ImageMeta, ObjectStore

FLAVORS = [
    Flavor(flavorid="1", name="m1.tiny", memory_mb=512, vcpus=1, root_gb=1),
    Flavor(flavorid="2", name="m1.small", memory_mb=2048, vcpus=1, root_gb=20),
    Flavor(flavorid="3", name="m1.medium", memory_mb=4096, vcpus=2, root_gb=40),
    Flavor(flavorid="4", name="m1.large", memory_mb=8192, vcpus=4, root_gb=80),
    Flavor(flavorid="42", name="m1.nano", memory_mb=128, vcpus=1, root_gb=1),
]
IMAGES = [
    ImageMeta(id="155d900f-4e14-4e4c-a73d-069cbf4541e6", name="cirros", size=16_338_944),
    ImageMeta(id="a2459075-d96c-40d5-893e-577ff92e721c", name="ubuntu", size=658_505_728),
    ImageMeta(id="76fa36fc-c930-4bf3-8c8a-ea2a2420deb6", name="fedora", size=520_000_000),
]


async def seed(db: ObjectStore) -> None:
    """Insert the catalogue unless it is there already."""
    if not await db.flavor_get_all(None):
        for flavor in FLAVORS:
            await db.flavor_create(None, flavor)
    if not await db.image_get_all(None):
        for image in IMAGES:
            await db.image_create(None, image)
