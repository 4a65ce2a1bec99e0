"""Storage: the ``ObjectStore`` on a database, with every query of the control plane.

``api.py`` (``Database``) binds the entity modules together: ``instances``,
``requests`` (request specs, build selections), ``actions`` (actions, events,
faults), ``hosts`` (services, compute nodes), ``catalog`` (flavors, images),
``migrations`` (migration records) and ``recovery`` (stuck work). They run portable
SQL on an ``Engine`` (``engine.py``); ``sqlite.py`` is the embedded one, ``schema.py``
the schema's versioned migrations; ``postgres.py`` the server one (its DDL
from ``dialect.py``); ``retrying.py`` the services' retries; ``errors.py`` what
failures mean, whatever the engine.
"""

from aionova.db.api import Database
from aionova.db.connection import engine_for
from aionova.db.engine import Engine
from aionova.db.errors import (
    DBConnectionError,
    DBDataError,
    DBDeadlock,
    DBDuplicateEntry,
    DBError,
)

__all__ = [
    "DBConnectionError",
    "DBDataError",
    "DBDeadlock",
    "DBDuplicateEntry",
    "DBError",
    "Database",
    "Engine",
    "engine_for",
]
