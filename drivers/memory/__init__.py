"""``memory://`` — an in-process bus with RabbitMQ's routing, for one process."""

from drivers.memory.bus import Bus, BusStatistics
from drivers.memory.driver import MemoryDriver

__all__ = ["Bus", "BusStatistics", "MemoryDriver"]
