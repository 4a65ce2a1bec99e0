"""The compute API layer: runs in the API process, on the shared database.

``API`` (servers: boot, reads, actions) and ``HostAPI`` (services, hypervisors,
migrations) are what the REST handlers call; they write through the database and
reach the other services only through their RPC clients (``conductor.rpcapi``,
``compute.rpcapi``).
"""

from aionova.api.compute.api import API
from aionova.api.compute.host_api import HostAPI

__all__ = ["API", "HostAPI"]
