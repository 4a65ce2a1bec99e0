"""``memory://`` — an in-process bus with RabbitMQ's routing, for one process."""

from aionova.drivers.memory.bus import Bus, BusStatistics
from aionova.drivers.memory.driver import MemoryDriver

__all__ = ["Bus", "BusStatistics", "MemoryDriver"]
