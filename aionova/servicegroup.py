"""Is a service up? Heartbeat age against service_down_time, and forced_down."""

from __future__ import annotations

import datetime as dt

from aionova.objects import Service


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class ServiceGroupAPI:
    """The DB servicegroup driver's rules (updated_at is ignored; created_at before a heartbeat)."""

    def __init__(self, report_interval: float, service_down_time: float) -> None:
        if service_down_time <= report_interval:
            service_down_time = report_interval * 2.5
        self.report_interval = report_interval
        self.service_down_time = service_down_time

    def service_is_up(self, service: Service, now: dt.datetime | None = None) -> bool:
        """False if forced down; else up iff the last heartbeat is <= service_down_time old."""
        if service.forced_down:
            return False
        last = service.last_seen_up or service.created_at
        if last is None:
            return False
        now = now or dt.datetime.now(dt.UTC)
        return abs((now - _aware(last)).total_seconds()) <= self.service_down_time
