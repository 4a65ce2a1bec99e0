"""Instances, contexts and a capturing endpoint for the control-plane notification tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aionova.context import RequestContext
from aionova.objects import Flavor, Instance
from aionova.states import power_state, vm_states

HOST = "compute"
WHEN = dt.datetime(2026, 11, 30, 16, 0, 0, 123456, tzinfo=dt.UTC)


def make_instance(**changes: Any) -> Instance:
    values: dict[str, Any] = {
        "uuid": "178b0921-8f85-4257-88b6-2e743b5a975c",
        "display_name": "some-server",
        "project_id": "6f70656e737461636b20342065766572",
        "user_id": "fake",
        "image_ref": "155d900f-4e14-4e4c-a73d-069cbf4541e6",
        "flavor": Flavor(
            id=6, flavorid="a22d5517", name="test_flavor", memory_mb=512, vcpus=1, root_gb=1
        ),
        "memory_mb": 512,
        "vcpus": 1,
        "root_gb": 1,
        "vm_state": vm_states.ACTIVE,
        "power_state": power_state.RUNNING,
        "host": HOST,
        "node": "fake-mini",
        "availability_zone": "nova",
        "reservation_id": "r-npxv0e40",
        "created_at": WHEN,
        "launched_at": WHEN,
        "updated_at": WHEN,
        "system_metadata": {"image_min_disk": "1", "description": "some-server"},
    }
    values.update(changes)
    return Instance(**values)


def raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


CTXT = RequestContext(user_id="fake", project_id="6f70656e737461636b20342065766572")


class Capture:
    def __init__(self) -> None:
        self.got: list[tuple[str, Any, str, Any]] = []
        self.changed = asyncio.Event()
        for priority in ("info", "error"):
            setattr(self, priority, self._method(priority.upper()))

    def _method(self, priority: str) -> Any:
        def record(ctxt: Any, publisher: Any, event_type: str, payload: Any, md: Any) -> None:
            self.got.append((priority, publisher, event_type, payload))
            self.changed.set()

        return record

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.got) < count:
                self.changed.clear()
                await self.changed.wait()
