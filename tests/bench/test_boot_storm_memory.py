"""``bench.boot_storm`` on memory:// with each notification setting (tiny, not timed)."""

from __future__ import annotations

import pytest

from bench.boot_storm import run


@pytest.mark.parametrize(
    ("notifications", "per_boot"), [("off", 0.0), ("unversioned", 2.0), ("both", 4.0)]
)
async def test_tiny_storm_reports_its_notifications(notifications: str, per_boot: float) -> None:
    result = await run(
        computes=3, instances=12, transport=None, concurrency=6, notifications=notifications
    )
    assert result["active"] == 12 and result["error"] == 0
    assert result["notifications"] == notifications
    # create.start and create.end per boot, in each format asked for
    assert result["notifications_per_boot"] == per_boot
